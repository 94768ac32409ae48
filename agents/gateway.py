"""The LLM gateway: route, redact, time-box, fall back, count.

Providers are tried in order (``HEXABOT_LLM``); a ``sensitive`` workspace only ever reaches
private providers.  Before a prompt goes to a non-private provider every message is redacted.
Each call has its own timeout; an error or a timeout moves on to the next provider.  Every call
— answered or not — is an audit event with provider, model, tokens and cost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import ollama
import openai
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage

from tools.audit import AuditEvent
from tools.redact import redact
from tools.security import SecurityContext

PROVIDER_ERRORS = (TimeoutError, OSError, ValueError, httpx.HTTPError, openai.OpenAIError,
                   ollama.ResponseError)


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


class NoProviderAnswered(Exception):
    """Every routed provider failed or none is allowed; the message lists why."""


def redacted(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    return [m.model_copy(update={"content": redact(m.content)})
            if isinstance(m.content, str) else m for m in messages]


class Gateway:
    def __init__(self, providers: Sequence[Provider],
                 audit: Callable[[AuditEvent], Awaitable[None]],
                 routes: dict[str, list[str]] | None = None) -> None:
        """``audit`` records each call's event (the agent passes the turn's collector);
        ``routes`` maps a workspace to its own provider order (names of ``providers``)."""
        self.providers = list(providers)
        self.audit = audit
        self.routes = routes or {}

    def route(self, ctx: SecurityContext) -> list[Provider]:
        """The workspace's own order if it has one; sensitive workspaces: private only."""
        order = self.routes.get(ctx.workspace)
        chosen = self.providers if order is None else [
            p for name in order for p in self.providers if p.name == name]
        return [p for p in chosen if p.private or not ctx.sensitive]

    async def complete(self, ctx: SecurityContext, messages: Sequence[BaseMessage],
                       tools: list[dict[str, Any]],
                       audit: Callable[[AuditEvent], Awaitable[None]] | None = None
                       ) -> Completion:
        routed = self.route(ctx)
        if not routed:
            raise NoProviderAnswered(f"workspace {ctx.workspace} is sensitive and no private "
                                     "LLM provider is configured")
        failures = []
        for provider in routed:
            payload = list(messages) if provider.private else redacted(messages)
            model: Any = provider.make()
            if tools:
                model = model.bind_tools(tools)
            began = time.monotonic()
            try:
                answer = await asyncio.wait_for(model.ainvoke(payload), provider.timeout)
            except PROVIDER_ERRORS as exc:
                reason = "timed out" if isinstance(exc, TimeoutError) else \
                    f"{type(exc).__name__}: {exc}"
                failures.append(f"{provider.name}: {reason}")
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
            hexabase_user=ctx.hexabase_user, workspace=ctx.workspace, namespace=ctx.namespace,
            request_id=ctx.request_id, session_id=ctx.session_id, error=error,
            duration_ms=int((time.monotonic() - began) * 1000),
            detail={"provider": provider.name, "model": provider.model,
                    "private": provider.private, "input_tokens": tokens_in,
                    "output_tokens": tokens_out, "cost_usd": round(cost, 6)}))
