"""What a tool is: one declaration each (name, prompt copy, args, effect, needed access, functions).

READ tools have ``run``.  WRITE tools have only ``plan`` (returns an :class:`ActionPlan`: the
exact change, its diff, target version, risk and cost) and ``execute``, which takes nothing but
a stored plan — so a write can only ever happen as a planned, reviewed change.  ``ToolSpec``
refuses any other combination at import time.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from tools.args import ToolArgs
from tools.audit import AuditHistory
from tools.errors import InvalidArguments
from tools.kube.access import Access
from tools.kube.client import UserCluster
from tools.prometheus import Prometheus
from tools.security import SecurityContext

PLAN_ANNOTATION = "hexabot.io/plan-id"
HOURS_PER_MONTH = 730


class Effect(enum.Enum):
    READ = "read"
    WRITE = "write"


class Risk(enum.Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True)
class Pricing:
    """Prices for cost estimates (USD); configurable in settings."""
    vcpu_hour: float = 0.0316
    gib_hour: float = 0.0042

    def monthly(self, cores: float, num_bytes: float) -> float:
        return (cores * self.vcpu_hour + num_bytes / 2**30 * self.gib_hour) * HOURS_PER_MONTH


@dataclass(frozen=True)
class ToolResult:
    text: str                    # compact, bounded text for a model or a terminal
    data: dict[str, Any]         # structured data for Slack rendering
    truncated: bool = False


@dataclass(frozen=True)
class Target:
    kind: str
    namespace: str
    name: str
    uid: str = ""
    resource_version: str = ""


@dataclass(frozen=True)
class ActionPlan:
    tool: str
    args: dict[str, Any]
    workspace: str
    namespace: str
    requester: str
    summary: str
    diff: str
    risk: Risk
    payload: dict[str, Any]          # the exact change execute() applies
    targets: tuple[Target, ...] = ()
    cost_delta: float | None = None  # USD per month; None when not a resource change
    dry_run: str = ""
    # What the guardrails judge, measured when planning: per object its kind, name, labels and,
    # where it applies, replicas before/after, resource change %, missing fields, command.
    facts: dict[str, Any] = field(default_factory=dict)
    # The workspace's identity (name and cluster, ``SecurityContext.workspace_id``), stamped
    # by the registry on every plan: approvals, lists and execution match on it, not the name.
    workspace_id: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def params_hash(self) -> str:
        """SHA-256 over the canonical JSON of what the plan would do and for whom."""
        hashed: dict[str, Any] = {
            "tool": self.tool, "args": self.args, "workspace": self.workspace,
            "namespace": self.namespace, "requester": self.requester,
            "targets": [asdict(t) for t in self.targets], "payload": self.payload}
        if self.facts:  # plans stored before facts existed keep their hash
            hashed["facts"] = self.facts
        if self.workspace_id:  # likewise for plans stored before workspace identities
            hashed["workspace_id"] = self.workspace_id
        canonical = json.dumps(hashed, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["risk"] = self.risk.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActionPlan:
        fields = dict(data)
        fields["risk"] = Risk(fields["risk"])
        fields["targets"] = tuple(Target(**t) for t in fields.get("targets") or ())
        return cls(**fields)


@dataclass
class ToolEnv:
    """What a tool function gets: who (ctx), how to reach the cluster as them, prices, the
    optional Prometheus the performance analyses read, and the optional audit history
    ``recent_changes`` reads Hexabot's own executed changes from.  Every door gets its
    environments from one :class:`tools.env.Environments`."""
    ctx: SecurityContext
    cluster: UserCluster
    pricing: Pricing = field(default_factory=Pricing)
    limit: int = 4096
    prometheus: Prometheus | None = None
    audit_history: AuditHistory | None = None
    # Not an init field: ``dataclasses.replace(env, ctx=…)`` must not carry one identity's
    # listings over to another.
    _listings: dict[tuple[str, tuple[tuple[str, str], ...]], asyncio.Task[Any]] = field(
        default_factory=dict, repr=False, compare=False, init=False)

    async def listing(self, path: str, what: str,
                      query: list[tuple[str, str]] | None = None) -> Any:
        """``GET path`` for callers that only read the answer, never change it: asked once per
        environment (one turn), so the inventory and ``list_pods`` in the same answer make one
        request and see the same state.  A failure is not kept: the next caller asks again."""
        key = (path, tuple(query or ()))
        task = self._listings.get(key)
        if task is None:
            task = asyncio.ensure_future(self.cluster.call("GET", path, query=query or [],
                                                           what=what))
            self._listings[key] = task

            def forget_failure(done: asyncio.Task[Any]) -> None:
                if (done.cancelled() or done.exception() is not None) \
                        and self._listings.get(key) is done:
                    del self._listings[key]
            task.add_done_callback(forget_failure)
        return await asyncio.shield(task)  # one caller giving up does not cancel the others'

    def namespace(self, args: ToolArgs) -> str:
        wanted = args.namespace or self.ctx.namespace
        if not self.ctx.allows_namespace(wanted):
            raise InvalidArguments(
                f"namespace {wanted!r} is not one of yours in workspace {self.ctx.workspace!r} "
                f"(yours: {', '.join(self.ctx.namespaces)})")
        return wanted


Run = Callable[[ToolEnv, Any], Awaitable[ToolResult]]
Plan = Callable[[ToolEnv, Any], Awaitable[ActionPlan]]
Execute = Callable[[ToolEnv, ActionPlan], Awaitable[ToolResult]]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    effect: Effect
    args: type[ToolArgs]
    needs: tuple[Access, ...]
    run: Run | None = None
    plan: Plan | None = None
    execute: Execute | None = None
    access_for: Callable[[Any], Access] | None = None  # when the access depends on the args
    # The output carries what its owner may see but a room may not (log lines, event
    # messages, env values, command output): in shared places, and to anyone but the person
    # it ran for, it is delivered privately.  One rule for every door (registry.private_output).
    private: bool = False

    def __post_init__(self) -> None:
        if self.effect is Effect.READ and (self.run is None or self.plan or self.execute):
            raise TypeError(f"READ tool {self.name} must have run() and no plan/execute")
        if self.effect is Effect.WRITE and (self.run is not None or not self.plan
                                            or not self.execute):
            raise TypeError(f"WRITE tool {self.name} must have plan() and execute(), no run()")
        if not self.needs:
            raise TypeError(f"tool {self.name} must declare the access it needs")

    def access(self, args: Any) -> Access:
        return self.access_for(args) if self.access_for is not None else self.needs[0]
