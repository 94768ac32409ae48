"""The tools of one turn, as the user: READ tools run, WRITE tools only ever become proposals.

The LLM agent, command mode, workflow runs and the CLI (``hexabot tools run``, ``hexabot
diagnose``) all act through a :class:`Toolbox`, so they share exactly the same tracing spans,
audit events (``tool.read``/``tool.write``, outcome ``ok``, ``denied`` or ``error``) and result
bookkeeping; what the agent may call is derived from the registry on top of it.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from agents import verdicts
from agents.types import Attachment, Proposal, ToolCall
from confirmations.flow import DecisionFlow
from confirmations.model import PendingAction
from tools import errors, registry, tracing
from tools.analysis import diagnosis
from tools.analysis.findings import Finding
from tools.audit import AuditEvent
from tools.reads.names import workloads
from tools.security import SecurityContext
from tools.spec import Effect, ToolEnv, ToolResult
from tools.writes import backup
from tools.writes.backup import Strategy


def failure(exc: errors.ToolError) -> str:
    """The audit outcome of a tool call that raised: ``denied`` when a permission or the
    guardrails refused it, ``error`` for anything else (bad arguments, the API server)."""
    return "denied" if isinstance(exc, errors.Forbidden | errors.PlanRefused) else "error"


def proposal_of(action: PendingAction) -> Proposal:
    """What a turn's answer (and a card) shows of a stored pending action."""
    plan = action.plan
    return Proposal(action.id, action.tool, plan.args, plan.summary, plan.risk.value,
                    plan.cost_delta, plan.diff)


@dataclass
class Toolbox:
    """``events`` collects the turn's read-side audit events; the caller writes them (the agent
    with the turn, in one transaction).  Proposals are state changes, audited where they
    happen; a failed proposal is audited here as ``tool.write``."""
    ctx: SecurityContext
    env: ToolEnv
    flow: DecisionFlow
    calls: list[ToolCall] = field(default_factory=list)
    proposals: list[Proposal] = field(default_factory=list)
    events: list[AuditEvent] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    on_call: Callable[[ToolCall], Awaitable[None]] | None = None  # progress (API streaming)
    on_delta: Callable[[str], Awaitable[None]] | None = None  # the answer's text as it comes
    reads_only: bool = False  # a re-ask (Slack's "Show all"): WRITE tools are refused

    async def _called(self, call: ToolCall) -> None:
        self.calls.append(call)
        if self.on_call is not None:
            await self.on_call(call)

    async def record(self, event: AuditEvent) -> None:
        self.events.append(event)

    async def _audit(self, tool: str, began: float, effect: Effect = Effect.READ,
                     failed: errors.ToolError | None = None, **detail: Any) -> None:
        await self.record(AuditEvent(
            kind=f"tool.{effect.value}", actor=self.ctx.slack_id,
            outcome="ok" if failed is None else failure(failed),
            hexabase_user=self.ctx.hexabase_user, workspace=self.ctx.workspace,
            workspace_id=self.ctx.workspace_id,
            namespace=self.ctx.namespace, request_id=self.ctx.request_id,
            session_id=self.ctx.session_id, detail={"tool": tool, **detail},
            error=failed.message if failed is not None else "",
            api_audit_id=failed.audit_id if failed is not None else "",
            duration_ms=int((time.monotonic() - began) * 1000)))

    async def ran(self, call: ToolCall) -> None:
        """Note a call made on the user's behalf elsewhere (a workflow run started from this
        turn), so the turn's answer knows what it carries (``ToolCall.private``)."""
        await self._called(call)

    async def refuse(self, tool: str, reason: str) -> None:
        """A call to a tool the user was not offered (unknown, or a WRITE tool they may not
        use): nothing runs, but the attempt is audited like any other denial."""
        await self.record(AuditEvent(
            kind="tool.refused", actor=self.ctx.slack_id, outcome="denied",
            hexabase_user=self.ctx.hexabase_user, workspace=self.ctx.workspace,
            workspace_id=self.ctx.workspace_id, namespace=self.ctx.namespace,
            request_id=self.ctx.request_id, session_id=self.ctx.session_id,
            detail={"tool": tool}, error=reason))

    async def read(self, tool: str, args: dict[str, Any],
                   private: bool | None = None) -> ToolResult:
        """Run a READ tool; a ToolError is recorded and re-raised for the caller to word.
        ``private=False``: the caller shows only what the output amounts to (a count of error
        lines), not the output, so the answer is not private on its account."""
        began = time.monotonic()
        try:
            with tracing.tracer().start_as_current_span(
                    f"tool {tool}", attributes={"hexabot.tool": tool, "hexabot.effect": "read"}):
                result = await registry.run(registry.get(tool), self.env, args)
        except errors.ToolError as exc:
            await self._called(ToolCall(tool, args, False, exc.message))
            await self._audit(tool, began, failed=exc)
            raise
        await self._called(ToolCall(tool, args, True, result.text, private))
        self.attachments += [Attachment(c["filename"], c["title"],
                                        base64.b64decode(c["png_base64"]))
                             for c in result.data.get("charts") or []]
        await self._audit(tool, began)
        return result

    async def propose(self, tool: str, args: dict[str, Any]) -> Proposal:
        """Plan a WRITE tool and store it as a pending action; nothing is applied."""
        return proposal_of(await self.propose_action(tool, args))

    async def propose_action(self, tool: str, args: dict[str, Any]) -> PendingAction:
        """:meth:`propose`, answering with the stored pending action (its whole plan and
        expiry, which the CLI prints)."""
        began = time.monotonic()
        try:
            if self.reads_only:
                raise errors.PlanRefused(
                    "this only shows an answer again in full, it proposes no change: ask for "
                    "the change in a message of your own")
            with tracing.tracer().start_as_current_span(
                    f"tool {tool}", attributes={"hexabot.tool": tool,
                                                "hexabot.effect": "write"}):
                action = await self.flow.propose(self.ctx, tool, args)
        except errors.ToolError as exc:
            await self._called(ToolCall(tool, args, False, exc.message))
            await self._audit(tool, began, Effect.WRITE, failed=exc)
            raise
        await self._called(ToolCall(tool, args, True, f"awaiting approval #{action.id}"))
        self.proposals.append(proposal_of(action))
        return action

    async def call(self, tool: str, args: dict[str, Any]) -> str:
        """What a model gets back for a tool call (reads: the result; writes: the proposal)."""
        spec = registry.get(tool)
        if spec.effect is Effect.WRITE:
            proposal = await self.propose(tool, args)
            return (f"awaiting approval #{proposal.id}: {proposal.summary} (risk "
                    f"{proposal.risk}). It will only run when a person approves it.")
        result = await self.read(tool, args)
        verdict = verdicts.for_tool(tool, result.data)
        return f"verdict: {verdict.line}\n{result.text}" if verdict else result.text

    async def diagnose(self, namespace: str) -> tuple[list[Finding], list[str]]:
        began = time.monotonic()
        with tracing.tracer().start_as_current_span("tool diagnose"):
            findings, unreadable = await diagnosis.diagnose(self.env, namespace)
        await self._called(ToolCall("troubleshoot_issues", {"namespace": namespace}, True,
                                   f"{len(findings)} findings"))
        await self._audit("diagnose", began, findings=[f.code for f in findings])
        return findings, unreadable

    async def backup_strategy(self, namespace: str, database: str) -> tuple[Strategy, str]:
        began = time.monotonic()
        found = await backup.strategy(self.env, namespace, database)
        await self._called(ToolCall("generate_backup_strategy",
                                    {"database": database, "namespace": namespace}, True,
                                   found[0].text()))
        await self._audit("backup_strategy", began)
        return found

    async def workloads(self) -> list[dict[str, Any]]:
        """Workloads in every namespace of the user's, the current one first."""
        order = [self.ctx.namespace, *(n for n in self.ctx.namespaces if n != self.ctx.namespace)]
        found: list[dict[str, Any]] = []
        for namespace in order:
            found += await workloads(self.env, namespace)
        return found
