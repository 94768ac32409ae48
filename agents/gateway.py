"""The LLM gateway: route, redact, time-box, fall back, count.

Providers are tried in order (``HEXABOT_LLM``); a ``sensitive`` workspace only ever reaches
private providers.  Before a prompt goes to a non-private provider every message is redacted:
content (string or parts), tool-call arguments, tool results and provider extras alike.
Each call has its own timeout; an error or a timeout moves on to the next provider.  Every call
— answered or not — is an audit event with provider, model, tokens and cost.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    message_chunk_to_message,
)

from agents.wire import plain
from tools.audit import AuditEvent
from tools.errors import HexabotError
from tools.redact import redact
from tools.security import SecurityContext

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel


def provider_errors() -> tuple[type[BaseException], ...]:
    """What a failed model call raises.  The SDKs' own errors are named only once a provider
    has loaded its SDK (nothing else can raise them), so no caller pays for importing them."""
    errors: list[type[BaseException]] = [TimeoutError, OSError, ValueError, httpx.HTTPError]
    for module, name in (("openai", "OpenAIError"), ("ollama", "ResponseError")):
        if module in sys.modules:
            errors.append(getattr(sys.modules[module], name))
    return tuple(errors)


@dataclass(frozen=True)
class Provider:
    name: str                               # "ollama", "openai"
    model: str
    private: bool                           # may see unredacted, sensitive data
    make: Callable[[], BaseChatModel]
    timeout: float = 30.0
    price_in: float = 0.0                   # USD per 1M input tokens
    price_out: float = 0.0                  # USD per 1M output tokens


@dataclass(frozen=True)
class Completion:
    message: AIMessage
    provider: Provider
    input_tokens: int
    output_tokens: int
    cost: float


class NoProviderAnswered(HexabotError):
    """Every routed provider failed or none is allowed; the message lists why."""

    code = "llm_unavailable"


def _scrub(value: Any) -> Any:
    """Every string inside ``value`` (content parts, nested lists/dicts) redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def _scrub_args(args: Any) -> Any:
    """Tool-call arguments, redacted as the JSON the provider will see (so a key such as
    ``password`` marks its value), falling back to each string on its own."""
    try:
        return json.loads(redact(json.dumps(args, ensure_ascii=False)))
    except (TypeError, ValueError):
        return _scrub(args)


def redacted_message(message: BaseMessage) -> BaseMessage:
    """A copy of ``message`` with its content, tool-call arguments and extra fields redacted."""
    update: dict[str, Any] = {"content": _scrub(message.content)}
    if message.additional_kwargs:
        update["additional_kwargs"] = _scrub(message.additional_kwargs)
    if isinstance(message, AIMessage):
        update["tool_calls"] = [{**call, "args": _scrub_args(call["args"])}
                                for call in message.tool_calls]
        update["invalid_tool_calls"] = [_scrub(call) for call in message.invalid_tool_calls]
    return message.model_copy(update=update)


def redacted(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """What a non-private provider is sent: every message through :func:`redacted_message`."""
    return [redacted_message(m) for m in messages]


async def _streamed(model: Any, payload: list[BaseMessage],
                    on_delta: Callable[[str], Awaitable[None]]) -> AIMessage:
    """The model's answer, streamed: text pieces to ``on_delta``, tool-call pieces joined."""
    whole: AIMessageChunk | None = None
    async for chunk in model.astream(payload):
        whole = chunk if whole is None else whole + chunk
        if isinstance(chunk.content, str) and chunk.content:
            await on_delta(chunk.content)
    if whole is None:
        raise ValueError("the stream ended without an answer")
    message = message_chunk_to_message(whole)
    assert isinstance(message, AIMessage)
    return message


class Gateway:
    def __init__(self, providers: Sequence[Provider],
                 audit: Callable[[AuditEvent], Awaitable[None]],
                 routes: dict[str, list[str]] | None = None) -> None:
        """``audit`` records each call's event (the agent passes the turn's collector);
        ``routes`` maps a workspace to its own provider order (names of ``providers``): by
        its identity (``name@fingerprint``, as `hexabot whoami` shows it), else by name."""
        self.providers = list(providers)
        self.audit = audit
        self.routes = routes or {}

    def route(self, ctx: SecurityContext) -> list[Provider]:
        """The workspace's own order if it has one; sensitive workspaces: private only."""
        order = self.routes.get(ctx.workspace_id, self.routes.get(ctx.workspace))
        chosen = self.providers if order is None else [
            p for name in order for p in self.providers if p.name == name]
        return [p for p in chosen if p.private or not ctx.sensitive]

    async def complete(self, ctx: SecurityContext, messages: Sequence[BaseMessage],
                       tools: list[dict[str, Any]],
                       audit: Callable[[AuditEvent], Awaitable[None]] | None = None,
                       tool_choice: str | dict[str, Any] = "auto",
                       on_delta: Callable[[str], Awaitable[None]] | None = None) -> Completion:
        """The first routed provider's answer.  ``tool_choice`` is always sent with tools
        (``auto``, or a tool named to insist on it): servers differ on what its absence means.
        With ``on_delta`` the answer is streamed and each piece of text is handed to it as it
        arrives (the returned message is still the whole answer, and authoritative)."""
        routed = self.route(ctx)
        if not routed:
            raise NoProviderAnswered(f"workspace {ctx.workspace} is sensitive and no private "
                                     "LLM provider is configured")
        failures = []
        for provider in routed:
            payload = list(messages) if provider.private else redacted(messages)
            model: Any = provider.make()
            if tools:
                model = model.bind_tools(tools, tool_choice=tool_choice)
            began = time.monotonic()
            try:
                answer = await asyncio.wait_for(
                    model.ainvoke(payload) if on_delta is None else _streamed(model, payload,
                                                                              on_delta),
                    provider.timeout)
            except provider_errors() as exc:
                reason = plain(exc, provider.name, provider.timeout)
                failures.append(reason)
                await (audit or self.audit)(self._event(ctx, provider, began, 0, 0, 0.0,
                                                        "error", reason))
                continue
            usage = getattr(answer, "usage_metadata", None) or {}
            tokens_in, tokens_out = int(usage.get("input_tokens", 0)), int(
                usage.get("output_tokens", 0))
            cost = (tokens_in * provider.price_in + tokens_out * provider.price_out) / 1e6
            await (audit or self.audit)(self._event(ctx, provider, began, tokens_in,
                                                    tokens_out, cost, "ok"))
            return Completion(answer, provider, tokens_in, tokens_out, cost)
        raise NoProviderAnswered("; ".join(failures))

    @staticmethod
    def _event(ctx: SecurityContext, provider: Provider, began: float, tokens_in: int,
               tokens_out: int, cost: float, outcome: str, error: str = "") -> AuditEvent:
        return (AuditEvent(
            kind="llm.call", actor=ctx.slack_id, outcome=outcome,
            hexabase_user=ctx.hexabase_user, workspace=ctx.workspace,
            workspace_id=ctx.workspace_id, namespace=ctx.namespace,
            request_id=ctx.request_id, session_id=ctx.session_id, error=error,
            duration_ms=int((time.monotonic() - began) * 1000),
            detail={"provider": provider.name, "model": provider.model,
                    "private": provider.private, "input_tokens": tokens_in,
                    "output_tokens": tokens_out, "cost_usd": round(cost, 6)}))
