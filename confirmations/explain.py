"""Saying what the guardrails would decide, without acting: ``hexabot policy explain`` and
``/hexabot policy``.  Text only; the decision flow gathers the facts (a plan made with reads and
a dry run, the stored activity) and nothing is proposed or changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from confirmations.guard import Ruling
from confirmations.rules import Policy, Protected, Rule
from tools import errors, registry
from tools.security import SecurityContext
from tools.spec import ActionPlan, Effect

if TYPE_CHECKING:
    from confirmations.flow import DecisionFlow


@dataclass(frozen=True)
class Explanation:
    tool: str
    args: dict[str, Any]
    ruling: Ruling | None          # None: a READ tool (not guarded)
    plan: ActionPlan | None
    problem: str = ""              # why no plan could be made (judged on the arguments alone)


async def decide(flow: DecisionFlow, ctx: SecurityContext, tool: str,
                 raw: dict[str, Any]) -> Explanation:
    """What the guardrails would decide for this write, without proposing it: the plan is made
    (reads and a server-side dry run only) so the facts are real; audited.  Arguments are
    validated like any call (READ tools too); only validated values are ever echoed."""
    spec = registry.get(tool)
    args = registry.parse_args(spec, raw).model_dump()
    shown = {k: v for k, v in args.items() if v is not None}
    if spec.effect is Effect.READ:
        return Explanation(tool, shown, None, None)
    plan: ActionPlan | None = None
    problem = ""
    try:
        plan = await registry.plan(spec, flow.envs.for_context(ctx), raw)
    except errors.ToolError as exc:
        problem = exc.message
    ruling = await flow.judge(ctx, tool, args, plan)
    await flow.store.record(flow.ruling_event(ctx, tool, plan, ruling, "explain"))
    return Explanation(tool, shown, ruling, plan, problem)


def _scope(rule: Rule) -> str:
    scope = rule.scope
    parts = []
    if scope.workspaces != ["*"]:
        parts.append("workspaces " + ", ".join(scope.workspaces))
    if scope.namespaces != ["*"]:
        parts.append("namespaces " + ", ".join(scope.namespaces))
    if scope.labels:
        parts.append("labels " + ", ".join(f"{k}={v}" for k, v in scope.labels.items()))
    if scope.kinds:
        parts.append("kinds " + ", ".join(scope.kinds))
    return "; ".join(parts) or "everywhere"


def describe(rule: Rule) -> str:
    """One line: what the rule is about and what it asks."""
    asks = []
    if not rule.allow:
        asks.append("refused" + (f" ({rule.reason})" if rule.reason else ""))
    if rule.approvals_needed is not None:
        asks.append(f"approvals: {rule.approvals_needed.describe}")
    if rule.risk is not None:
        asks.append(f"risk at least {rule.risk.value}")
    if rule.windows:
        asks.append("only in " + ", ".join(w.describe() for w in rule.windows)
                    + (" (else two people)" if rule.outside_windows == "two_people" else ""))
    for freeze in rule.freezes:
        asks.append(f"freeze {freeze.describe()} → {freeze.then.replace('_', ' ')}")
    caps = rule.caps
    for label, value in (("max replicas", caps.max_replicas),
                         ("max scale step", caps.max_scale_step),
                         ("max resource change %", caps.max_resource_change_pct)):
        if value is not None:
            asks.append(f"{label} {value:g}")
    if rule.rate:
        asks.append(f"at most {rule.rate} writes per user")
    limits = rule.concurrency
    if limits.per_object is not None:
        asks.append(f"{limits.per_object} change(s) in flight per object")
    if limits.per_user is not None:
        asks.append(f"{limits.per_user} change(s) in flight per user")
    if rule.require_fields:
        asks.append("manifests need " + " and ".join(rule.require_fields))
    if rule.commands:
        asks.append("commands: " + ", ".join(f"`{c}`" for c in rule.commands[:8])
                    + (" …" if len(rule.commands) > 8 else ""))
    tools = "every write" if "*" in rule.tools else ", ".join(rule.tools)
    return f"{rule.name} — {tools} in {_scope(rule)}: {'; '.join(asks) or 'no constraints'}"


def _protected(entry: Protected) -> str:
    what = [", ".join(entry.names)] if entry.names else []
    what += [", ".join(f"{k}={v}" for k, v in entry.labels.items())] if entry.labels else []
    where = "" if entry.namespaces == ["*"] else f" in {', '.join(entry.namespaces)}"
    return (f"{entry.name} — {' with '.join(what)}{where}: never restarted, deleted or "
            "scaled to 0")


def overview(policy: Policy, ctx: SecurityContext) -> str:
    """The rules that can apply to ``ctx`` (their workspace and namespaces)."""
    def reaches(workspaces: list[str], namespaces: list[str]) -> bool:
        return (any(fnmatchcase(ctx.workspace, w) for w in workspaces)
                and any(fnmatchcase(n, p) for n in ctx.namespaces for p in namespaces))

    rules = [describe(r) for r in policy.rules
             if reaches(r.scope.workspaces, r.scope.namespaces)]
    protected = [_protected(p) for p in policy.protected if reaches(p.workspaces, p.namespaces)]
    two = [n for n in ctx.namespaces if ctx.needs_two_people(n)]
    lines = [f"Guardrails ({policy.source}) for {ctx.name} in workspace {ctx.workspace}:"]
    lines += [f"• {line}" for line in rules] or ["• no rules apply to you"]
    if protected:
        lines.append("Protected:")
        lines += [f"• {line}" for line in protected]
    if two:
        lines.append(f"Two-person namespaces (directory): {', '.join(two)}")
    lines.append("Ask what a change would need: `/hexabot policy TOOL key=value …`, e.g. "
                 "`/hexabot policy scale_deployment name=web-app replicas=8`.")
    return "\n".join(lines)


def _value(value: Any) -> str:
    """An argument as echoed: one line, at most 60 characters (a manifest is a line count)."""
    shown = str(value)
    if "\n" in shown:
        return f"<{shown.count(chr(10)) + 1} lines>"
    return shown if len(shown) <= 60 else shown[:57] + "…"


def text(explanation: Explanation) -> str:
    """The explanation; ``explanation.args`` are the tool's validated arguments."""
    args = " ".join(f"{k}={_value(v)}" for k, v in explanation.args.items())
    lines = [f"{explanation.tool} {args}".rstrip()]
    ruling = explanation.ruling
    if ruling is None:
        return "\n".join([*lines, "Decision: ALLOW — read tools are not guarded; they run "
                                   "as you and the API server's RBAC decides."])
    plan = explanation.plan
    if plan is not None:
        lines.append(f"Plan: {plan.summary} (risk {plan.risk.value})")
    else:
        lines.append(f"No plan could be made ({explanation.problem}); judged on the "
                     "arguments alone")
    lines.append("Rules that apply: " + (", ".join(ruling.rules) or "none"))
    lines += [f"  {note}" for note in ruling.notes]
    decided = f" (rule {ruling.rule})" if ruling.rule and ruling.outcome != "deny" else ""
    verdict = {"allow": "ALLOW — the requester's own approval suffices",
               "require": f"REQUIRE {ruling.approvals.describe}{decided}",
               "deny": f"DENY — {ruling.reason}"}[ruling.outcome]
    lines.append(f"Decision: {verdict}")
    if ruling.risk is not None:
        lines.append(f"Risk: {ruling.risk.value}")
    lines.append("Nothing was proposed or changed.")
    return "\n".join(lines)
