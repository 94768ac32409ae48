"""Guardrail evaluation, a pure function of facts gathered elsewhere:

    evaluate(policy, operation, args, plan, ctx, activity, now) -> Ruling

``allow`` (the requester's own click suffices), ``deny`` (with the reason, the rule that decided
and what would be allowed) or ``require`` (approvals from one or two people other than the
requester).  Every rule whose tools and scope match applies; the strictest outcome wins; the
first rule that refuses is the one reported.  The caller evaluates when a plan is made (a denied
plan is never offered) and again when it is approved (the policy or the clock may have moved),
and audits every evaluation with the deciding rule.  No I/O here: the user's recent writes and
the changes in flight come in as :class:`Activity`.

Every rule is judged in ``plan.namespace``, so before any rule a plan whose facts or targets
name another namespace is denied (:data:`ONE_NAMESPACE`), whichever tool made it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, Literal
from zoneinfo import ZoneInfo

from confirmations.rules import Approvals, Policy, Protected, Rule
from tools.security import SecurityContext
from tools.spec import ActionPlan, Risk

# Built-in read-only diagnostics, for exec_command when no matching rule lists commands.
DEFAULT_COMMANDS = (("env",), ("df", "-h"), ("cat", "/proc/meminfo"), ("ps",), ("ps", "aux"))
RISKS = (Risk.LOW, Risk.MEDIUM, Risk.HIGH)
DESTRUCTIVE = {"restart": "restarted", "delete_resource": "deleted"}


@dataclass(frozen=True)
class PastWrite:
    at: datetime
    tool: str
    workspace: str
    namespace: str
    # What it touched, as the scope judges it: (kind, sorted labels) per object.
    objects: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()

    @staticmethod
    def touched(facts: dict[str, Any] | None) -> tuple[tuple[str, tuple[tuple[str, str], ...]],
                                                        ...]:
        """``objects`` from a stored plan's facts (kind and labels of each object)."""
        return tuple((str(o.get("kind", "")), tuple(sorted((str(k), str(v)) for k, v in (
            o.get("labels") or {}).items()))) for o in (facts or {}).get("objects") or ())


@dataclass(frozen=True)
class ChangeInFlight:
    id: str
    requester: str
    tool: str
    objects: tuple[str, ...]          # "Kind/namespace/name"


@dataclass(frozen=True)
class Activity:
    """The requester's writes within the rate horizon and every change not yet finished in
    the workspace — without the action being evaluated."""
    writes: tuple[PastWrite, ...] = ()
    in_flight: tuple[ChangeInFlight, ...] = ()


@dataclass(frozen=True)
class Ruling:
    outcome: Literal["allow", "deny", "require"]
    reason: str
    rule: str                          # the rule that decided ("" = none matched)
    approvals: Approvals = Approvals.SELF
    risk: Risk | None = None
    rules: tuple[str, ...] = ()        # every rule that applied
    notes: tuple[str, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return self.outcome != "deny"

    def audit(self) -> dict[str, Any]:
        return {"decision": self.outcome, "rule": self.rule, "reason": self.reason,
                "approvals": self.approvals.label, "rules": list(self.rules)}


class _Denied(Exception):
    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule, self.reason = rule, reason


def objects(plan: ActionPlan | None) -> list[dict[str, Any]]:
    if plan is None:
        return []
    listed = plan.facts.get("objects")
    if listed:
        return list(listed)
    return [{"kind": t.kind, "namespace": t.namespace, "name": t.name, "labels": {}}
            for t in plan.targets]


ONE_NAMESPACE = "one-namespace-per-plan"


def foreign_objects(plan: ActionPlan | None) -> list[str]:
    """Objects a plan's facts or targets place outside ``plan.namespace`` (an empty namespace
    counts as outside).  Every rule — scopes, protections, the two-person namespaces, the
    approvers' scope — is judged in ``plan.namespace``, so a plan naming any other namespace is
    denied whatever tool made it."""
    if plan is None:
        return []
    named = [(str(o.get("kind")), str(o.get("namespace") or ""), str(o.get("name")))
             for o in plan.facts.get("objects") or []]
    named += [(t.kind, t.namespace, t.name) for t in plan.targets]
    return sorted({f"{kind} {ns or '(no namespace)'}/{name}" for kind, ns, name in named
                   if ns != plan.namespace})


def object_key(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{obj.get('namespace')}/{obj.get('name')}"


def _any(patterns: list[str], value: str) -> bool:
    return any(fnmatchcase(value, p) for p in patterns)


def _labels_match(wanted: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in wanted.items())


def _in_scope(rule: Rule, operation: str, workspace: str, namespace: str) -> bool:
    """Tool, workspace and namespace match (what the rate limits count by)."""
    return (("*" in rule.tools or operation in rule.tools)
            and _any(rule.scope.workspaces, workspace) and _any(rule.scope.namespaces, namespace))


def matches(rule: Rule, operation: str, workspace: str, namespace: str,
            objs: list[dict[str, Any]]) -> bool:
    scope = rule.scope
    if not _in_scope(rule, operation, workspace, namespace):
        return False
    if scope.kinds and not any(o.get("kind") in scope.kinds for o in objs):
        return False
    if scope.labels:
        return any(_labels_match(scope.labels, o.get("labels") or {}) for o in objs)
    return True


def _protects(entry: Protected, workspace: str, obj: dict[str, Any]) -> bool:
    if not _any(entry.workspaces, workspace) or not _any(entry.namespaces,
                                                         str(obj.get("namespace"))):
        return False
    if entry.kinds and obj.get("kind") not in entry.kinds:
        return False
    if entry.names and not _any(entry.names, str(obj.get("name"))):
        return False
    return _labels_match(entry.labels, obj.get("labels") or {})


def _protected(policy: Policy, operation: str, workspace: str,
               objs: list[dict[str, Any]]) -> None:
    for obj in objs:
        replicas: list[int] = obj.get("replicas") or []
        to_zero = len(replicas) == 2 and replicas[1] == 0
        if operation not in DESTRUCTIVE and not to_zero:
            continue
        for entry in policy.protected:
            if _protects(entry, workspace, obj):
                what = DESTRUCTIVE.get(operation, "scaled to 0")
                raise _Denied(entry.name, f"{obj['kind']} {obj['namespace']}/{obj['name']} is "
                                          f"protected (rule {entry.name}): it is never {what} "
                                          "by Hexabot; other changes to it are still possible")


def _caps(rule: Rule, objs: list[dict[str, Any]]) -> None:
    caps = rule.caps
    for obj in objs:
        where = f"{obj['kind']} {obj['namespace']}/{obj['name']}"
        replicas = obj.get("replicas")
        if replicas:
            before, after = replicas
            if caps.max_replicas is not None and after > caps.max_replicas:
                raise _Denied(rule.name, f"{after} replicas for {where} is above the cap of "
                                         f"{caps.max_replicas} (rule {rule.name}); at most "
                                         f"{caps.max_replicas} would be allowed")
            step = caps.max_scale_step
            if step is not None and abs(after - before) > step:
                low, high = max(0, before - step), before + step
                if caps.max_replicas is not None:
                    high = min(high, caps.max_replicas)
                raise _Denied(rule.name, f"{before} → {after} replicas for {where} changes by "
                                         f"{abs(after - before)}, more than the step of {step} "
                                         f"(rule {rule.name}); from {before}, {low} to {high} "
                                         "would be allowed (in more steps if needed)")
        change = obj.get("resource_change_pct")
        limit = caps.max_resource_change_pct
        if change is not None and limit is not None and change > limit:
            raise _Denied(rule.name, f"{where}: resources change by {change:.0f}%, more than "
                                     f"the {limit:g}% allowed per change (rule {rule.name}); "
                                     "change them in smaller steps")


def _required(rule: Rule, objs: list[dict[str, Any]]) -> None:
    for wanted in rule.require_fields:
        missing = [m for o in objs for m in (o.get("lacking") or {}).get(wanted, [])]
        if missing:
            raise _Denied(rule.name, f"rule {rule.name} requires {wanted} on every container; "
                                     f"missing in {', '.join(missing[:5])}"
                                     + (" …" if len(missing) > 5 else ""))


def _fmt(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def _windows(rule: Rule, policy: Policy, now: datetime) -> Approvals | None:
    """Escalation from change windows and freezes (or a refusal)."""
    tz = policy.timezone
    for freeze in rule.freezes:
        if freeze.contains(now, tz):
            why = f" ({freeze.reason})" if freeze.reason else ""
            if freeze.then == "deny":
                ends = freeze.ends(tz)
                until = f"; it ends {_fmt(ends, freeze.timezone or tz)}" if ends else ""
                raise _Denied(rule.name, f"writes are frozen{why} by rule {rule.name} "
                                         f"({freeze.describe()}){until}")
            return Approvals.TWO_PEOPLE
    if rule.windows and not any(w.contains(now, tz) for w in rule.windows):
        if rule.outside_windows == "two_people":
            return Approvals.TWO_PEOPLE
        starts = [s for w in rule.windows if (s := w.next_start(now, tz)) is not None]
        nxt = f"; the next window opens {_fmt(min(starts), tz)}" if starts else ""
        raise _Denied(rule.name, "outside the change windows of rule "
                                 f"{rule.name} ({', '.join(w.describe() for w in rule.windows)})"
                                 f"{nxt}")
    return None


WriteKey = tuple[str, str, str, tuple[tuple[str, tuple[tuple[str, str], ...]], ...]]


def _writes_by_scope(activity: Activity) -> dict[WriteKey, list[datetime]]:
    """The user's writes grouped by (tool, workspace, namespace, objects), times sorted: each
    rule's scope is then matched once per group, not once per write."""
    groups: dict[WriteKey, list[datetime]] = {}
    for w in activity.writes:
        groups.setdefault((w.tool, w.workspace, w.namespace, w.objects), []).append(w.at)
    for times in groups.values():
        times.sort()
    return groups


def _rate(rule: Rule, writes: dict[WriteKey, list[datetime]], now: datetime,
          policy: Policy) -> None:
    """The rule's rate counts only the writes its whole scope matches — tools, workspaces,
    namespaces, and the kinds and labels of what they touched."""
    limit = rule.rate_limit
    if limit is None:
        return
    count, period, unit = limit
    recent: list[datetime] = []
    for (tool, workspace, namespace, touched), times in writes.items():
        objs = [{"kind": kind, "labels": dict(labels)} for kind, labels in touched]
        if matches(rule, tool, workspace, namespace, objs):
            recent += times[bisect.bisect_right(times, now - period):
                            bisect.bisect_right(times, now)]
    if len(recent) >= count:
        recent.sort()
        free = recent[len(recent) - count] + period
        raise _Denied(rule.name, f"you already made {len(recent)} writes in the last {unit} "
                                 f"(rule {rule.name}: {rule.rate}); the next is possible "
                                 f"{_fmt(free, policy.timezone)}")


def _concurrency(rule: Rule, requester: str, objs: list[dict[str, Any]],
                 activity: Activity) -> None:
    limits = rule.concurrency
    if limits.per_object is not None:
        for key in (object_key(o) for o in objs):
            busy = [f.id for f in activity.in_flight if key in f.objects]
            if len(busy) >= limits.per_object:
                raise _Denied(rule.name, f"{key.replace('/', ' ', 1)} already has "
                                         f"{len(busy)} change(s) in flight ({', '.join(busy)}) "
                                         f"and rule {rule.name} allows {limits.per_object}; "
                                         "approve or reject those first")
    if limits.per_user is not None:
        mine = [f.id for f in activity.in_flight if f.requester == requester]
        if len(mine) >= limits.per_user:
            raise _Denied(rule.name, f"you have {len(mine)} change(s) in flight "
                                     f"({', '.join(mine)}) and rule {rule.name} allows "
                                     f"{limits.per_user}; decide those first")


def allowed_commands(rules: list[Rule]) -> tuple[tuple[str, ...], ...] | None:
    """The exec allowlist from the matching rules; None = any command."""
    listed = [rule.argvs() for rule in rules if rule.commands]
    if not listed:
        return DEFAULT_COMMANDS
    argvs = [tuple(argv) for group in listed for argv in group]
    return None if ("*",) in argvs else tuple(argvs)


def _command(rules: list[Rule], operation: str, args: dict[str, Any]) -> None:
    if operation != "exec_command":
        return
    argv = tuple(args.get("command") or ())
    allowed = allowed_commands(rules)
    if allowed is None or argv in allowed:
        return
    deciding = next((r.name for r in rules if r.commands), "built-in exec allowlist")
    listing = ", ".join("'" + " ".join(a) + "'" for a in allowed)
    raise _Denied(deciding, f"'{' '.join(argv)}' is not an allowed command "
                            f"({deciding}); allowed: {listing}")


def evaluate(policy: Policy, operation: str, args: dict[str, Any], plan: ActionPlan | None,
             ctx: SecurityContext, activity: Activity, now: datetime) -> Ruling:
    """Judge one write for ``ctx`` at ``now``: see the module docstring."""
    workspace = plan.workspace if plan else ctx.workspace
    namespace = plan.namespace if plan else str(args.get("namespace") or ctx.namespace)
    objs = objects(plan)
    applying = [r for r in policy.rules if matches(r, operation, workspace, namespace, objs)]
    names = tuple(r.name for r in applying)
    needed, decider = Approvals.SELF, ""
    notes: list[str] = []
    if ctx.needs_two_people(namespace):
        needed, decider = Approvals.ONE_TEAMMATE, "two-person namespace"
        notes.append(f"namespace {namespace} is a two-person namespace (directory)")
    risk = plan.risk if plan else None
    writes = _writes_by_scope(activity)
    try:
        foreign = foreign_objects(plan)
        if foreign:
            raise _Denied(ONE_NAMESPACE, f"{', '.join(foreign)} lie(s) outside the plan's "
                                         f"namespace {namespace}; rules are judged in one "
                                         "namespace per plan, so make one plan per namespace")
        _protected(policy, operation, workspace, objs)
        _command(applying, operation, args)
        for rule in applying:
            if not rule.allow:
                raise _Denied(rule.name, f"{operation} is not allowed in {workspace}/"
                                         f"{namespace} (rule {rule.name})"
                                         + (f": {rule.reason}" if rule.reason else ""))
            _caps(rule, objs)
            _required(rule, objs)
            _rate(rule, writes, now, policy)
            _concurrency(rule, ctx.slack_id, objs, activity)
            for level, why in ((rule.approvals_needed, "approvals"),
                               (_windows(rule, policy, now), "time")):
                if level is not None and level > needed:
                    needed, decider = level, rule.name
                    notes.append(f"rule {rule.name}: {level.describe} ({why})")
            if rule.risk is not None and (risk is None
                                          or RISKS.index(rule.risk) > RISKS.index(risk)):
                risk = rule.risk
    except _Denied as denied:
        return Ruling("deny", denied.reason, denied.rule, needed, risk, names, tuple(notes))
    if needed is Approvals.SELF:
        return Ruling("allow", "allowed; the requester may approve it", decider, needed, risk,
                      names, tuple(notes))
    return Ruling("require", f"needs {needed.describe}" + (f" ({decider})" if decider else ""),
                  decider, needed, risk, names, tuple(notes))
