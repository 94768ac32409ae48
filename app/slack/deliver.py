"""What follows a proposal's decision, whichever door it came through (a Slack button, App
Home, the chat API, the CLI) — one service, so no door forgets a step or a rule:

- every card of the action shows its new state (the clicked one and the stored one);
- a private result (``ToolSpec.private``: exec output) goes only to the requester's DM;
- workflows waiting on the action resume, and report where their owner started them — in the
  thread, unless the report holds private output, which then goes to the owner's DM.

Doors word only their own answer to the person who acted (``decision.shown_to`` decides what of a
result that person may read).  Without a Slack client (the CLI, an API-only deployment) cards
and DMs are skipped; the result stays with the action.
"""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from agents.orchestrator.engine import Run
from agents.orchestrator.runs import Owner
from app.services import Services
from app.slack import render
from confirmations.model import PendingAction
from tools import registry


async def dm(client: AsyncWebClient, user: str, text: str) -> None:
    channel = (await client.conversations_open(users=user))["channel"]["id"]
    await client.chat_postMessage(channel=channel, text=text[:3000],
                                  blocks=render.text_blocks(text))


async def settle(services: Services, client: AsyncWebClient | None, action_id: str,
                 action: PendingAction | None, clicked: tuple[str, str] = ("", "")
                 ) -> list[tuple[Owner, Run]]:
    """Cards, private delivery and workflow resumption after a decision on ``action_id``
    (``action``: its row after the decision; ``clicked``: the card clicked, if any)."""
    if client is not None and action is not None:
        for channel, ts in {clicked, (action.slack_channel or "", action.slack_ts or "")}:
            if channel and ts:
                await client.chat_update(channel=channel, ts=ts,
                                         text=f"{action.state.value}: {action.plan.summary}",
                                         blocks=render.card(action))
        if action.result and registry.private_output(action.tool):
            await dm(client, action.requester, action.result)
    resumed = await services.orchestrator.resume_for(action_id)
    if client is not None:
        for owner, run in resumed:
            await post_run(client, owner, run, services.orchestrator.private(run))
    return resumed


async def post_run(client: AsyncWebClient, owner: Owner, run: Run, private: bool = False) -> None:
    """A resumed workflow's report where its owner started it: the thread, else their DM (also
    when the report is ``private`` — the thread then only says where it went).  Runs started
    from the CLI have no Slack session (``hexabot workflow show`` tells)."""
    kind, _, rest = owner.session_id.partition(":")
    if kind not in ("thread", "dm", "slash"):
        return
    text = run.text()
    if kind == "thread":
        channel, thread = rest.split(":")[:2]
        if not private:
            await client.chat_postMessage(channel=channel, thread_ts=thread, text=text[:3000],
                                          blocks=render.validate(render.text_blocks(text)))
            return
        note = f"Workflow {run.workflow} ({run.state}): I sent its report to <@{owner.slack_id}> " \
               "in a direct message (it holds private output)."
        await client.chat_postMessage(channel=channel, thread_ts=thread, text=note,
                                      blocks=render.notice(note))
    await dm(client, owner.slack_id, text)
