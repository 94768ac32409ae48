"""Bolt listeners: parse at the edge, call one service, render.  Slack dicts stop here.

- DM ``message`` → a personal session; ``app_mention`` → answered in its thread, acting as the
  mentioner.  A "working…" message is posted first and replaced by the answer; each proposal
  gets its own approval card.
- ``/hexabot`` → help, whoami, workspace, namespace, pending, logout, and command mode.
- ``approve``/``reject`` buttons → the DecisionFlow, then the decision service
  (:mod:`app.decisions`: cards, private result, App Home, workflows); a refusal goes only to
  the clicker (ephemeral, or their DM from App Home).
- ``app_home_opened`` → identity, context and pending approvals.
Listeners are plain module-level functions, arguments injected by name as Bolt does: besides
Bolt's own (``body``, ``client``, ``ack``…), ``services`` and ``event_log`` (which drops Slack's
redeliveries), put in every request's context by the middleware :func:`register` installs.
Bolt acks events itself before a listener runs; commands and actions ack first thing.  What a
listener cannot word itself (a dependency down, a bug) escapes to the one error boundary,
:mod:`app.slack.boundary`, which answers the person.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import SpanKind
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agents.types import Ask, Reply
from app.identity.service import IdentityError
from app.pairs import parse_pairs
from app.services import Services
from app.slack import boundary, deliver, render
from app.slack.dedupe import EventLog
from app.slack.observe import Listener, ListenerRuns
from confirmations import explain
from tools import errors, tracing
from tools.redact import redact

MENTION = re.compile(r"<@[A-Z0-9]+>\s*")


@dataclass(frozen=True)
class Message:
    """A person's message to the bot, parsed from an event."""
    event_id: str
    user: str
    channel: str
    text: str
    ts: str
    thread_ts: str | None
    direct: bool

    @classmethod
    def from_event(cls, body: dict[str, Any], event: dict[str, Any]) -> Message:
        direct = event.get("channel_type") == "im"
        return cls(event_id=str(body.get("event_id", "")), user=str(event.get("user", "")),
                   channel=str(event["channel"]), text=MENTION.sub("", event.get("text", "")),
                   ts=str(event["ts"]),
                   thread_ts=None if direct else str(event.get("thread_ts") or event["ts"]),
                   direct=direct)

    @classmethod
    def from_click(cls, body: dict[str, Any]) -> Message:
        pressed = body["actions"][0]
        channel = (body.get("channel") or {}).get("id", "")
        container = body.get("container") or {}
        direct = channel.startswith("D")
        thread = container.get("thread_ts") or container.get("message_ts")
        return cls(event_id=f"click:{pressed.get('action_ts', '')}", user=body["user"]["id"],
                   channel=channel, text=str(pressed["value"]),
                   ts=str(container.get("message_ts", "")),
                   thread_ts=None if direct else thread, direct=direct)

    @property
    def session_id(self) -> str:
        return f"dm:{self.user}" if self.direct else \
            f"thread:{self.channel}:{self.thread_ts}:{self.user}"


SUGGESTION = re.compile(r"^suggest_\d$")


@dataclass(frozen=True)
class Click:
    """A button press on a card in a conversation, or in App Home (no channel then)."""
    action_id: str
    action: str   # the pending action id: the only thing a button carries
    user: str
    channel: str
    message_ts: str

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Click:
        action = body["actions"][0]
        return cls(action_id=action["action_id"], action=str(action["value"]),
                   user=body["user"]["id"], channel=(body.get("channel") or {}).get("id", ""),
                   message_ts=(body.get("container") or {}).get("message_ts", ""))


def shared(reply: Reply) -> Reply:
    """``reply`` as shown in a shared channel: redacted (defence in depth: nothing private was
    read), its kubectl lines too."""
    return dataclasses.replace(reply, text=redact(reply.text),
                               kubectl=tuple(redact(line) for line in reply.kubectl))


@tracing.traced("slack.message", kind=SpanKind.SERVER,
                attributes=lambda a: {"hexabot.direct": a["message"].direct,
                                      "slack.event_id": a["message"].event_id})
async def answer(services: Services, client: AsyncWebClient, message: Message,
                 context: dict[str, Any] | None = None) -> None:
    """Answer ``message``; the "working…" placeholder is recorded in ``context`` (the Bolt
    context) so that the error boundary replaces it if anything fails."""
    try:
        working = await client.chat_postMessage(channel=message.channel, text="working…",
                                                thread_ts=message.thread_ts)
    except SlackApiError as exc:
        if exc.response.get("error") not in ("not_in_channel", "channel_not_found"):
            raise
        dm = await client.conversations_open(users=message.user)
        note = ("I cannot post in that channel (invite me with `/invite @hexabot`); "
                "answering you here instead.")
        await client.chat_postMessage(channel=dm["channel"]["id"], text=note)
        message = Message(message.event_id, message.user, dm["channel"]["id"], message.text,
                          message.ts, None, True)
        working = await client.chat_postMessage(channel=message.channel, text="working…")
    if context is not None:
        context[boundary.WORKING] = (message.channel, working["ts"])
    try:
        reply = await services.agent.handle(Ask(message.user, message.text, message.session_id))
    except IdentityError as exc:
        await client.chat_update(channel=message.channel, ts=working["ts"], text=str(exc),
                                 blocks=render.notice(str(exc)))
        return
    if not message.direct and reply.private:  # a shared place: the answer goes to the DM
        dm = await client.conversations_open(users=message.user)
        await client.chat_postMessage(channel=dm["channel"]["id"], text=reply.text[:3000],
                                      blocks=render.reply(reply, message.text))
        note = ("I sent that to you in a direct message (logs, events and command output can "
                "hold private data).")
        await client.chat_update(channel=message.channel, ts=working["ts"], text=note,
                                 blocks=render.notice(note))
    else:  # in a shared channel, redacted (defence in depth: nothing private was read)
        shown = reply if message.direct else shared(reply)
        await client.chat_update(channel=message.channel, ts=working["ts"],
                                 text=shown.text[:3000],
                                 blocks=render.reply(shown, message.text))
    for attachment in reply.attachments:  # charts, beside the answer
        await client.files_upload_v2(channel=message.channel, thread_ts=message.thread_ts,
                                     content=attachment.content, filename=attachment.filename,
                                     title=attachment.title)
    await services.decisions.proposed([p.id for p in reply.proposals],
                                      (message.channel, message.thread_ts))


def register(app: AsyncApp, services: Services, events: EventLog,
             inflight: ListenerRuns | None = None) -> None:
    """The listeners below, on ``app``.  ``services`` and ``events`` reach them through the
    Bolt context, as ``services`` and ``event_log`` (a global middleware puts them there and
    Bolt injects context keys by argument name).  Every listener runs inside ``inflight``
    (graceful shutdown waits for them)."""

    async def provide(context: AsyncBoltContext, next: Callable[[], Awaitable[Any]]) -> Any:
        context["services"] = services
        context["event_log"] = events
        return await next()

    app.middleware(provide)
    track = inflight.tracked if inflight is not None else _untracked
    app.event("message")(track(on_direct_message))
    app.event("app_mention")(track(on_mention))
    app.command("/hexabot")(track(on_command))
    app.action("approve")(track(on_approve))
    app.action("reject")(track(on_reject))
    app.action(SUGGESTION)(track(on_suggestion))
    app.action(render.SHOW_ALL)(track(on_show_all))
    app.event("app_home_opened")(track(on_home))


def _untracked(listener: Listener) -> Listener:
    return listener


async def on_direct_message(body: dict[str, Any], event: dict[str, Any],
                            client: AsyncWebClient, context: AsyncBoltContext,
                            services: Services, event_log: EventLog) -> None:
    if event.get("channel_type") != "im" or event.get("bot_id") or event.get("subtype"):
        return
    message = Message.from_event(body, event)
    if await event_log.first_time(message.event_id):
        await answer(services, client, message, context)


async def on_mention(body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient,
                     context: AsyncBoltContext, services: Services,
                     event_log: EventLog) -> None:
    if event.get("bot_id"):
        return
    message = Message.from_event(body, event)
    if await event_log.first_time(message.event_id):
        await answer(services, client, message, context)


async def on_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond,
                     services: Services) -> None:
    await ack()
    user, text = command["user_id"], command.get("text", "").strip()
    verb, _, rest = text.partition(" ")
    try:
        result = await _slash(services, user, command["channel_id"], verb.lower(),
                              rest.strip(), text)
    except IdentityError as exc:
        result = str(exc)
    await respond(text=result[:3000], blocks=render.text_blocks(result),
                  response_type="ephemeral")


async def on_approve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                     services: Services) -> None:
    await ack()
    await _decide(services, client, Click.from_body(body), approve=True)


async def on_reject(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                    services: Services) -> None:
    await ack()
    await _decide(services, client, Click.from_body(body), approve=False)


async def on_suggestion(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                        context: AsyncBoltContext, services: Services) -> None:
    """A suggested next step clicked: asked as the clicker (their identity, their RBAC),
    where the answer was."""
    await ack()
    await answer(services, client, Message.from_click(body), context)


async def on_show_all(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                      services: Services) -> None:
    """"Show all" under a long answer: asked again as the clicker (their identity, their
    RBAC), the whole answer to them alone — ephemeral where the answer was, or their DM when
    it is private (logs, events) or the click was in a DM."""
    await ack()
    message = Message.from_click(body)
    try:
        reply = await services.agent.handle(Ask(message.user, message.text, message.session_id,
                                                reads_only=True))  # the button's text is anyone's
    except IdentityError as exc:
        await deliver.dm(client, message.user, str(exc))
        return
    if not (message.direct or reply.private):  # shown in a shared channel: redacted
        reply = shared(reply)
    if message.direct or reply.private or not message.channel:
        opened = await client.conversations_open(users=message.user)
        await client.chat_postMessage(channel=opened["channel"]["id"], text=reply.text[:3000],
                                      blocks=render.reply(reply))
        return
    await client.chat_postEphemeral(channel=message.channel, user=message.user,
                                    text=reply.text[:3000], blocks=render.reply(reply))


async def on_home(event: dict[str, Any], client: AsyncWebClient, services: Services) -> None:
    await deliver.publish_home(services, client, str(event["user"]))


@tracing.traced("slack.click", kind=SpanKind.SERVER,
                attributes=lambda a: {"hexabot.action": a["click"].action,
                                      "hexabot.approve": a["approve"]})
async def _decide(services: Services, client: AsyncWebClient, click: Click,
                  approve: bool) -> None:
    flow = services.confirmations
    decision = await (flow.approve(click.action, click.user) if approve
                      else flow.reject(click.action, click.user))
    if decision.private or decision.action is None:
        if click.channel:
            await client.chat_postEphemeral(channel=click.channel, user=click.user,
                                            text=decision.message,
                                            blocks=render.notice(decision.message))
        else:  # clicked in App Home: the answer goes to the clicker's DM
            dm = await client.conversations_open(users=click.user)
            await client.chat_postMessage(channel=dm["channel"]["id"], text=decision.message,
                                          blocks=render.notice(decision.message))
        return
    await services.decisions.decided(click.action, decision.action, click.user,
                                     (click.channel, click.message_ts))


async def _policy(services: Services, user: str, rest: str) -> str:
    """`/hexabot policy [TOOL key=value …]`: the rules for you, or one decision explained."""
    me = await services.identity.context(user)
    flow = services.confirmations
    if not rest:
        return explain.overview(flow.guardrails, me)
    try:
        tool, *pairs = shlex.split(rest)
        found = await flow.explain(me, tool, parse_pairs(pairs))
    except ValueError as exc:
        return f"I cannot read that: {exc}; say `/hexabot policy TOOL key=value …`"
    except errors.ToolError as exc:
        return f"I cannot explain that: {exc.message}"
    return explain.text(found)


async def _slash(services: Services, user: str, channel: str, verb: str, rest: str,
                 text: str) -> str:
    identity = services.identity
    if verb in ("", "help"):
        return ("`/hexabot whoami | workspace [NAME] | namespace [NAME] | pending | policy "
                "[TOOL key=value …] | logout | login` — and any command-mode request (`pods`, "
                "`status web-app`, …).")
    if verb == "policy":
        return await _policy(services, user, rest)
    if verb == "whoami":
        me = await identity.context(user)
        return (f"{me.name} (Hexabase {me.hexabase_user}); workspace {me.workspace}, namespace "
                f"{me.namespace}; allowed: {', '.join(me.namespaces)}; workspace identity "
                f"{me.workspace_id} (name and cluster)")
    if verb == "workspace":
        ctx = await (identity.switch_workspace(user, rest) if rest else identity.context(user))
        return f"workspace: {ctx.workspace} (namespace {ctx.namespace})"
    if verb == "namespace":
        ctx = await (identity.switch_namespace(user, rest) if rest else identity.context(user))
        return f"namespace: {ctx.namespace} (allowed: {', '.join(ctx.namespaces)})"
    if verb == "logout":
        await identity.logout(user)
        services.clusters.forget(user)
        return ("Forgotten: your link, cached credentials, context, conversation memory and "
                "workflow runs.")
    if verb == "login":
        if services.link_flow is None:
            return "This Hexabot uses a static directory: ask an administrator to add you."
        return f"Sign in to link your account: {await services.link_flow.start(user)}"
    if verb == "pending":
        me = await identity.context(user)
        actions = await services.confirmations.pending_for(me)
        return "\n".join(f"• {a.plan.summary} (`{a.id}`)" for a in actions) or "Nothing pending."
    reply = await services.agent.handle(Ask(user, text, f"slash:{channel}:{user}"))
    return reply.text
