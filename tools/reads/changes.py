"""recent_changes: what changed in a namespace, or around one workload, in the last minutes.

The first question of an incident ("what changed?"), answered from what the cluster keeps:

- rollout — a Deployment's ReplicaSet created in the window (a new revision), or an old one
  taken up again (a rollback; timed by its ``ScalingReplicaSet`` event);
- scale — the other ``ScalingReplicaSet`` events (replica changes of the current ReplicaSet)
  and HorizontalPodAutoscaler rescales;
- config — ConfigMaps and Secrets created or changed (the newest ``managedFields[].time`` and
  its manager), with the workloads that read them; they are listed as metadata only
  (PartialObjectMetadataList), so no value is ever read;
- warning — Warning events, duplicates merged with counts;
- hexabot — Hexabot's own executed changes, when the environment has an audit history
  (``ToolEnv.audit_history``; otherwise the answer says it is not included).

Newest first, one line each, at most :data:`SHOWN` lines and then ``+N more``.  What the user
may not list is named as not checked.  Events expire (an hour by default), so older rollbacks
and rescales can be missing; ReplicaSet and managedFields times stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field

from tools import errors
from tools.args import Name, ToolArgs
from tools.kube.client import JSON, METADATA_ONLY
from tools.reads.rollouts import Revision, deployment_path, images, owned_by, revision_of
from tools.spec import ToolEnv, ToolResult
from tools.text import age, bound

SHOWN = 30
KEPT = 200  # changes kept in the structured data
SCALED = re.compile(r"Scaled (?:up|down) replica set (\S+) "
                    r"(?:from (\d+) to (\d+)|to (\d+) from (\d+))")
CONFIGMAP_KEYS = ("configMap", "configMapRef", "configMapKeyRef")
SECRET_KEYS = ("secret", "secretRef", "secretKeyRef")
READERS = (("statefulset", "/apis/apps/v1/namespaces/{ns}/statefulsets"),
           ("daemonset", "/apis/apps/v1/namespaces/{ns}/daemonsets"),
           ("cronjob", "/apis/batch/v1/namespaces/{ns}/cronjobs"))


class ChangesArgs(ToolArgs):
    name: Name | None = Field(default=None, description="only changes around this workload, "
                                                        "ConfigMap or Secret")
    since_minutes: int = Field(default=60, ge=1, le=10080, description="how far back (at most "
                                                                         "7 days)")


@dataclass(frozen=True)
class Change:
    at: datetime
    kind: str     # rollout | scale | config | warning | hexabot
    object: str   # deployment/web-app
    text: str

    def as_dict(self) -> dict[str, str]:
        return {"at": self.at.isoformat(), "kind": self.kind, "object": self.object,
                "text": self.text}


def parse_time(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _items(env: ToolEnv, path: str, plural: str, unseen: list[str],
                 accept: str = JSON) -> list[dict[str, Any]]:
    try:
        listing = await env.cluster.call("GET", path, what=f"list {plural}", accept=accept)
    except (errors.Forbidden, errors.NotFound):
        unseen.append(plural)
        return []
    return list(listing.get("items") or [])


def _name(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["name"])


def references(node: Any) -> set[tuple[str, str]]:
    """(``configmap``|``secret``, name) that a workload's spec reads: env, envFrom, volumes
    and projected volumes."""
    found: set[tuple[str, str]] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, dict):
                named = value.get("secretName") if key == "secret" else value.get("name")
                if isinstance(named, str) and key in CONFIGMAP_KEYS:
                    found.add(("configmap", named))
                elif isinstance(named, str) and key in SECRET_KEYS:
                    found.add(("secret", named))
            found |= references(value)
    elif isinstance(node, list):
        for item in node:
            found |= references(item)
    return found


def _event_time(event: dict[str, Any]) -> datetime | None:
    series = (event.get("series") or {}).get("lastObservedTime")
    return (parse_time(series) or parse_time(event.get("lastTimestamp"))
            or parse_time(event.get("eventTime")) or parse_time(event.get("firstTimestamp"))
            or parse_time((event.get("metadata") or {}).get("creationTimestamp")))


@dataclass
class _Scope:
    """What counts as "around" ``name``: the objects and pod-name prefixes to keep."""
    name: str | None
    objects: set[str]
    prefixes: set[str]

    def keeps(self, kind: str, name: str) -> bool:
        if self.name is None or name in self.objects:
            return True
        return kind == "Pod" and any(name.startswith(p + "-") for p in self.prefixes)


@dataclass(frozen=True)
class Scaling:
    """One ScalingReplicaSet event: when (and its resourceVersion, to order events of the
    same second), which ReplicaSet, from how many replicas to how many."""
    at: datetime
    order: int
    replicaset: str
    before: int
    after: int


Scaled = list[Scaling]


Start = tuple[datetime, str]  # a rollout began: when, to which ReplicaSet


def _rollouts(deployment: dict[str, Any], revisions: list[Revision],
              scaled: Scaled) -> tuple[list[Change], list[Start]]:
    """Every revision's rollout whose start is known: a ReplicaSet's creation, or — taken up
    again — its scale-up from 0 (the newest)."""
    current = revision_of(deployment)
    found: list[Change] = []
    starts: list[Start] = []
    for rev in revisions:
        tail = f"ReplicaSet {rev.name}, {images(rev.template)}" + (
            "; current" if rev.number == current else "")
        created = parse_time(rev.created)
        up = [e.at for e in scaled if e.replicaset == rev.name and e.before == 0]
        if rev.earlier and up and (created is None or max(up) > created):
            text = f"revision {rev.number}: back to the template of revision " \
                   f"{rev.earlier[-1]} ({tail})"
            starts.append((max(up), rev.name))
        elif created is not None:
            text = f"revision {rev.number}: new {tail}"
            starts.append((created, rev.name))
        else:
            continue
        found.append(Change(starts[-1][0], "rollout", f"deployment/{_name(deployment)}", text))
    return found, starts


def _replicas(name: str, index: int, ordered: Scaled, now: dict[str, int]) -> int:
    """How many replicas ReplicaSet ``name`` had at event ``index``: after its last event
    before it, else before its first event after it, else as it is now."""
    earlier = [e.after for e in ordered[:index] if e.replicaset == name]
    later = [e.before for e in ordered[index + 1:] if e.replicaset == name]
    return earlier[-1] if earlier else later[0] if later else now.get(name, 0)


def _scaling(deployment: dict[str, Any], revisions: list[Revision], scaled: Scaled,
             starts: list[Start], since: datetime) -> list[Change]:
    """The ScalingReplicaSet events that changed the replica count, without the steps of a
    rollout (within its progress deadline, the new ReplicaSet growing while an old one still
    has pods, and the old ones shrinking)."""
    deadline = timedelta(seconds=(deployment.get("spec") or {}).get(
        "progressDeadlineSeconds") or 600)
    now = {r.name: int((r.replicaset.get("spec") or {}).get("replicas") or 0)
           for r in revisions}
    ordered = sorted(scaled, key=lambda e: (e.at, e.order))
    found = []
    for index, event in enumerate(ordered):
        latest = max((start for start, _ in starts if start <= event.at), default=None)
        began = [rolled for start, rolled in starts  # the last rollout(s), ties of a second
                 if start == latest and event.at <= start + deadline]
        growing = event.after > event.before
        step = any((event.replicaset != rolled and not growing)
                   or (event.replicaset == rolled and growing and any(
                       _replicas(other, index, ordered, now) > 0 for other in now
                       if other != rolled)) for rolled in began)
        if event.at >= since and not step:
            found.append(Change(event.at, "scale", f"deployment/{_name(deployment)}",
                                f"replicas {event.before} → {event.after} "
                                f"(ReplicaSet {event.replicaset})"))
    return found


def deployment_changes(deployment: dict[str, Any], revisions: list[Revision], scaled: Scaled,
                       since: datetime) -> list[Change]:
    """A Deployment's rollouts and replica changes at or after ``since``."""
    rollouts, starts = _rollouts(deployment, revisions, scaled)
    return [c for c in rollouts if c.at >= since] + _scaling(deployment, revisions, scaled,
                                                             starts, since)


def _config(kind: str, obj: dict[str, Any], readers: list[str], since: datetime) -> list[Change]:
    meta = obj.get("metadata") or {}
    created = parse_time(meta.get("creationTimestamp"))
    times = [(parse_time(e.get("time")), str(e.get("manager") or "?"))
             for e in meta.get("managedFields") or []]
    stamped = [(t, m) for t, m in times if t is not None]
    latest = max((t for t, _ in stamped), default=None)
    read = f"; read by {', '.join(readers)}" if readers else ""
    if latest is not None and latest >= since and (created is None or latest > created):
        managers = sorted({m for t, m in stamped if t == latest})
        return [Change(latest, "config", f"{kind}/{meta.get('name')}",
                       f"changed by {', '.join(managers)}{read}")]
    if created is not None and created >= since:
        return [Change(created, "config", f"{kind}/{meta.get('name')}", f"created{read}")]
    return []


def _warnings(events: list[dict[str, Any]], scope: _Scope, since: datetime) -> list[Change]:
    merged: dict[tuple[str, str, str], list[Any]] = {}
    for event in events:
        obj = event.get("involvedObject") or {}
        at = _event_time(event)
        if event.get("type") != "Warning" or at is None or at < since or not scope.keeps(
                str(obj.get("kind", "")), str(obj.get("name", ""))):
            continue
        what = f"{str(obj.get('kind', '')).lower()}/{obj.get('name', '')}"
        key = (str(event.get("reason", "")), what, str(event.get("message", "")).strip())
        entry = merged.setdefault(key, [at, 0])
        entry[0], entry[1] = max(entry[0], at), entry[1] + int(event.get("count") or 1)
    return [Change(at, "warning", what, f"{reason}: {message[:160]}"
                   + (f" (×{count})" if count > 1 else ""))
            for (reason, what, message), (at, count) in merged.items()]


async def _hexabot(env: ToolEnv, namespace: str, scope: _Scope,
                   since: datetime) -> list[Change]:
    if env.audit_history is None:
        return []
    found = []
    for event in await env.audit_history.executed(env.ctx, namespace, since):
        at = parse_time(event.at)
        if at is None or at < since or not scope.keeps(event.resource_kind, event.resource_name):
            continue
        tool = event.detail.get("tool", event.kind)
        by = f" by {event.actor}" + (f", approved by {event.approver}"
                                      if event.approver and event.approver != event.actor else "")
        outcome = "" if event.outcome == "ok" else f" ({event.outcome}: {event.error[:80]})"
        found.append(Change(at, "hexabot", f"{event.resource_kind.lower()}/{event.resource_name}",
                            f"{tool}{by}{outcome}"))
    return found


def _scalings(events: list[dict[str, Any]], scope: _Scope,
              since: datetime) -> tuple[dict[str, Scaled], list[Change]]:
    """Each Deployment's ScalingReplicaSet events, and the autoscalers' rescales."""
    scaled_by: dict[str, Scaled] = {}
    rescales: list[Change] = []
    for event in events:
        obj = event.get("involvedObject") or {}
        match = SCALED.search(str(event.get("message", "")))
        at = _event_time(event)
        if (event.get("reason") == "ScalingReplicaSet" and obj.get("kind") == "Deployment"
                and match and at is not None):
            rs, a, b, c, d = match.groups()
            version = str((event.get("metadata") or {}).get("resourceVersion") or "")
            scaled_by.setdefault(str(obj.get("name")), []).append(Scaling(
                at, int(version) if version.isdigit() else 0, rs,
                int(a if a is not None else d), int(b if b is not None else c)))
        elif (event.get("reason") == "SuccessfulRescale" and at is not None and at >= since
              and scope.keeps("", str(obj.get("name")))):
            rescales.append(Change(at, "scale", f"hpa/{obj.get('name')}",
                                   str(event.get("message", ""))[:160]))
    return scaled_by, rescales


def _window(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"{minutes // 1440} day(s)"
    if minutes % 60 == 0:
        return f"{minutes // 60} hour(s)"
    return f"{minutes} minutes"


async def recent_changes(env: ToolEnv, args: ChangesArgs) -> ToolResult:
    namespace = env.namespace(args)
    now = datetime.now(UTC)
    since = now - timedelta(minutes=args.since_minutes)
    unseen: list[str] = []
    ns = namespace
    deployments = await env.cluster.call("GET", deployment_path(ns),
                                         what=f"list deployments in {ns}")
    replicasets = await _items(env, f"/apis/apps/v1/namespaces/{ns}/replicasets", "replicasets",
                               unseen)
    events = await _items(env, f"/api/v1/namespaces/{ns}/events", "events", unseen)
    hpas = await _items(env, f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers",
                        "horizontalpodautoscalers", unseen)
    configs = [("configmap", o) for o in await _items(
        env, f"/api/v1/namespaces/{ns}/configmaps", "configmaps", unseen, METADATA_ONLY)]
    configs += [("secret", o) for o in await _items(  # metadata only: values never read
        env, f"/api/v1/namespaces/{ns}/secrets", "secrets", unseen, METADATA_ONLY)]
    workloads = [("deployment", d) for d in deployments.get("items") or []]
    revisions = {_name(d): owned_by(replicasets, d) for _, d in workloads}
    scope = _Scope(args.name, {args.name} if args.name else set(), set())
    named = next((d for _, d in workloads if _name(d) == args.name), None)
    if named is not None:  # its ReplicaSets, their pods, what it reads
        scope.prefixes |= {r.name for r in revisions[_name(named)]}
        scope.objects |= scope.prefixes | {n for _, n in references(named.get("spec"))}
    elif args.name:  # a StatefulSet's or a Job's pods, say
        scope.prefixes.add(args.name)
    scope.objects |= {_name(h) for h in hpas if ((h.get("spec") or {}).get(
        "scaleTargetRef") or {}).get("name") == args.name}
    scaled_by, changes = _scalings(events, scope, since)
    for _, deployment in workloads:
        if not scope.keeps("Deployment", _name(deployment)):
            continue
        changes += deployment_changes(deployment, revisions[_name(deployment)],
                                      scaled_by.get(_name(deployment), []), since)
    touched = [(kind, obj) for kind, obj in configs if scope.keeps("", _name(obj))
               and _config(kind, obj, [], since)]
    if touched:
        for kind, path in READERS:
            workloads += [(kind, o) for o in await _items(env, path.format(ns=ns), kind + "s",
                                                          unseen)]
    for kind, obj in touched:
        readers = [f"{wk}/{_name(w)}" for wk, w in workloads
                   if (kind, _name(obj)) in references(w.get("spec"))]
        changes += _config(kind, obj, readers[:5] + ([f"+{len(readers) - 5} more"]
                                                     if len(readers) > 5 else []), since)
    changes += _warnings(events, scope, since)
    changes += await _hexabot(env, ns, scope, since)
    return _answer(env, args, ns, changes, unseen)


def _answer(env: ToolEnv, args: ChangesArgs, namespace: str, changes: list[Change],
            unseen: list[str]) -> ToolResult:
    """Newest first, as many lines as fit (at most :data:`SHOWN`), then what was left out."""
    changes.sort(key=lambda c: c.at, reverse=True)
    stamp = "%m-%d %H:%M" if args.since_minutes > 1440 else "%H:%M:%S"
    around = f" around {args.name}" if args.name else ""
    window = _window(args.since_minutes)
    head = (f"{len(changes)} change(s) in {namespace}{around} in the last {window}, newest "
            "first" if changes else f"no changes in {namespace}{around} in the last {window}")
    body = [f"{c.at:{stamp}} ({age(c.at.isoformat())} ago) {c.kind} {c.object}: {c.text}"
            for c in changes[:SHOWN]]
    notes = []
    if unseen:
        notes.append(f"(not visible to you, so not checked: {', '.join(sorted(set(unseen)))})")
    if env.audit_history is None:
        notes.append("(Hexabot's own changes are not included here: no audit history is "
                     "connected)")
    shown = len(body)
    while True:
        more = [f"+{len(changes) - shown} more (narrow with name=… or fewer since_minutes)"
                ] if len(changes) > shown else []
        text = "\n".join([head, *body[:shown], *more, *notes])
        if len(text.encode()) <= env.limit or shown == 0:
            break
        shown -= 1
    text, cut = bound(text, env.limit)
    return ToolResult(text, {"namespace": namespace, "name": args.name,
                             "since_minutes": args.since_minutes,
                             "changes": [c.as_dict() for c in changes[:KEPT]],
                             "more": len(changes) - shown,
                             "not_visible": sorted(set(unseen))}, cut or shown < len(changes))
