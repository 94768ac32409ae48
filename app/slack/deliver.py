"""Slack's notifier (:class:`agents.notify.Notifier`): how the decision service
(:mod:`app.decisions`) tells people in Slack what followed a proposal's decision or expiry —

- every card of the action shows its new state (the one clicked and the stored one);
- a private result goes only to the requester's DM;
- App Home is republished for the people concerned;
- a resumed workflow's report goes where its owner started it — the thread, unless the report
  holds private output, which then goes to the owner's DM.

What to do, and when, is the service's; this module only words it for Slack.
"""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from agents.orchestrator.runner import WorkflowRun
from agents.orchestrator.runs import Owner
from app.identity.service import IdentityError
from app.services import Services
from app.slack import render
from confirmations.model import PendingAction
from tools.redact import redact


async def dm(client: AsyncWebClient, user: str, text: str) -> None:
    channel = (await client.conversations_open(users=user))["channel"]["id"]
    await client.chat_postMessage(channel=channel, text=text[:3000],
                                  blocks=render.text_blocks(text))


class SlackNotifier:
    """The decision service's steps as Slack cards, DMs and App Home views."""

    def __init__(self, services: Services, client: AsyncWebClient) -> None:
        self.services = services
        self.client = client

    async def proposed(self, action: PendingAction, where: tuple[str, str | None] | None
                       ) -> None:
        if where is None:  # the chat API or the CLI: the card goes to the requester's DM
            opened = await self.client.conversations_open(users=action.requester)
            where = (opened["channel"]["id"], None)
        channel, thread = where
        posted = await self.client.chat_postMessage(
            channel=channel, thread_ts=thread,
            text=f"Approval needed: {redact(action.plan.summary)}", blocks=render.card(action))
        await self.services.confirmations.store.set_card(action.id, channel, posted["ts"],
                                                         thread)

    async def action_changed(self, action: PendingAction, card: tuple[str, str] = ("", "")
                             ) -> None:
        for channel, ts in {card, (action.slack_channel or "", action.slack_ts or "")}:
            if channel and ts:
                await self.client.chat_update(channel=channel, ts=ts,
                                              text=f"{action.state.value}: {action.plan.summary}",
                                              blocks=render.card(action))

    async def private_result(self, action: PendingAction) -> None:
        if action.result:
            await dm(self.client, action.requester, action.result)

    async def run_report(self, owner: Owner, run: WorkflowRun, private: bool) -> None:
        await post_run(self.client, owner, run, private)

    async def home_changed(self, user: str) -> None:
        await publish_home(self.services, self.client, user)

    async def followed(self, action: PendingAction, text: str) -> None:
        """In the card's thread; a change proposed outside Slack has no card: its requester's
        DM then."""
        where = action.thread
        shown = redact(text)
        if where is None:
            await dm(self.client, action.requester, shown)
            return
        await self.client.chat_postMessage(channel=where[0], thread_ts=where[1],
                                           text=shown[:3000],
                                           blocks=render.validate(render.text_blocks(shown)))


async def publish_home(services: Services, client: AsyncWebClient, user: str) -> None:
    """App Home: who the bot acts as, pending approvals (with buttons), recent actions."""
    try:
        me = await services.identity.context(user)
    except IdentityError as exc:
        await client.views_publish(user_id=user, view={
            "type": "home", "blocks": render.notice(str(exc))})
        return
    pending = await services.confirmations.pending_for(me)
    await client.views_publish(user_id=user, view={"type": "home", "blocks": render.home(
        me.name, me.workspace, me.namespace, pending,
        await services.confirmations.store.recent(user))})


async def post_run(client: AsyncWebClient, owner: Owner, run: WorkflowRun,
                   private: bool = False) -> None:
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
