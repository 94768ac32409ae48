"""apply_yaml: server-side apply of a short list of manifests, deny by default.

Only the kinds in :data:`ALLOWED` may be applied.  Refused outright: Secrets, RBAC objects,
anything cluster-scoped or of an unknown kind, namespaces outside the user's, objects in a
namespace other than the plan's (every guardrail, the two-person rule and the approvers are
judged in the plan's namespace, so it must be each object's own), Deployments, StatefulSets and
HPAs above :data:`~tools.writes.common.MAX_REPLICAS` (scale_deployment's cap), and pod templates
asking for privileges (:mod:`tools.writes.podsecurity`).  The text is parsed with aliases
refused and depth and size bounded, and every document's shape is checked before anything reads
it (:mod:`tools.writes.manifest`).  All objects are checked before any is read, dry-run or
applied, so a refusal or a conflict leaves nothing half-done.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import Field

from tools import errors
from tools.args import ToolArgs
from tools.kube.access import Access
from tools.spec import PLAN_ANNOTATION, ActionPlan, Risk, Target, ToolEnv, ToolResult
from tools.writes import manifest, podsecurity
from tools.writes.common import (
    APPLY_PATCH,
    FIELD_MANAGER,
    MAX_REPLICAS,
    diff,
    dry_run,
    executed_already,
    fact,
    lacking,
    pod_requests,
    require,
    resource_change_pct,
    stale,
    target_of,
    templates,
)

# (apiVersion, kind) -> (API group, plural)
ALLOWED: dict[tuple[str, str], tuple[str, str]] = {
    ("apps/v1", "Deployment"): ("apps", "deployments"),
    ("apps/v1", "StatefulSet"): ("apps", "statefulsets"),
    ("v1", "Service"): ("", "services"),
    ("v1", "ConfigMap"): ("", "configmaps"),
    ("batch/v1", "CronJob"): ("batch", "cronjobs"),
    ("batch/v1", "Job"): ("batch", "jobs"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"): ("autoscaling", "horizontalpodautoscalers"),
    ("networking.k8s.io/v1", "Ingress"): ("networking.k8s.io", "ingresses"),
    ("policy/v1", "PodDisruptionBudget"): ("policy", "poddisruptionbudgets"),
}
REFUSED_WHY = {
    "Secret": "Secrets are never applied through chat; use your secret manager",
    "Role": "RBAC objects are refused", "RoleBinding": "RBAC objects are refused",
    "ClusterRole": "RBAC objects are refused", "ClusterRoleBinding": "RBAC objects are refused",
    "Namespace": "cluster-scoped objects are refused", "Node": "cluster-scoped objects are refused",
    "PersistentVolume": "cluster-scoped objects are refused",
}
MAX_DOCUMENTS = 20
# Fields holding a replica count, per kind (the same cap as scale_deployment's).
REPLICA_FIELDS = {"Deployment": ("replicas",), "StatefulSet": ("replicas",),
                  "HorizontalPodAutoscaler": ("minReplicas", "maxReplicas")}


class ApplyArgs(ToolArgs):
    manifest: str = Field(min_length=1, max_length=64 * 1024,
                          description="YAML of the objects to apply (multi-document)")


def _check(env: ToolEnv, doc: dict[str, Any], index: int,
           default_ns: str) -> tuple[str, str, str, str]:
    """(group, plural, namespace, name) of an allowed, well-shaped document, else PlanRefused."""
    where = f"document {index + 1}"
    kind, api_version = doc["kind"], doc["apiVersion"]
    name = doc["metadata"]["name"]
    if kind in REFUSED_WHY:
        raise errors.PlanRefused(f"{where} ({kind} {name}): {REFUSED_WHY[kind]}")
    if (api_version, kind) not in ALLOWED:
        allowed = ", ".join(sorted(k for _, k in ALLOWED))
        raise errors.PlanRefused(f"{where}: {api_version} {kind} is not in apply_yaml's "
                                 f"allowlist ({allowed})")
    namespace = doc["metadata"].get("namespace") or default_ns
    if not env.ctx.allows_namespace(namespace):
        raise errors.PlanRefused(f"{where} ({kind} {name}) targets namespace {namespace!r}, "
                                 f"which is not yours (yours: {', '.join(env.ctx.namespaces)})")
    spec = doc.get("spec") or {}
    over = [f"{key} {spec[key]}" for key in REPLICA_FIELDS.get(kind, ())
            if (spec.get(key) or 0) > MAX_REPLICAS]
    if over:
        raise errors.PlanRefused(f"{where} ({kind} {name}) asks for {', '.join(over)}: at most "
                                 f"{MAX_REPLICAS} replicas, as for scale_deployment")
    problems = [p for template in templates(doc) for p in podsecurity.problems(template)]
    if problems:
        raise errors.PlanRefused(f"{where} ({kind} {name}) is refused: {'; '.join(problems)}")
    group, plural = ALLOWED[(api_version, kind)]
    return group, plural, namespace, name


def _one_namespace(checked: list[tuple[str, str, str, str]], docs: list[dict[str, Any]],
                   plan_ns: str) -> None:
    """Refuse objects outside the plan's namespace: the guardrails, the two-person rule and the
    approver checks judge the plan's namespace, which must be the one each object lives in."""
    foreign = [(i, doc["kind"], name, namespace)
               for i, ((_, _, namespace, name), doc) in enumerate(zip(checked, docs, strict=True))
               if namespace != plan_ns]
    if not foreign:
        return
    listed = "; ".join(f"document {i + 1} ({kind} {name}) is in namespace {namespace!r}"
                       for i, kind, name, namespace in foreign)
    others = sorted({namespace for *_, namespace in foreign})
    raise errors.PlanRefused(
        f"{listed}, but this plan is for namespace {plan_ns!r}: one plan applies to one "
        "namespace, so its guardrails and approvals are judged where the objects live. Apply "
        + " and ".join(f"the objects of {ns!r} with namespace={ns}" for ns in others)
        + " (one plan per namespace), or remove their metadata.namespace")


def _project(current: Any, shape: Any) -> Any:
    """``current`` cut down to the fields ``shape`` sets: server-side apply leaves the others
    alone, so the diff must not show them as removed."""
    if isinstance(current, dict) and isinstance(shape, dict):
        return {k: _project(current.get(k), v) for k, v in shape.items() if k in current}
    if isinstance(current, list) and isinstance(shape, list) and len(current) == len(shape):
        return [_project(c, s) for c, s in zip(current, shape, strict=True)]
    return current


def _monthly(env: ToolEnv, obj: dict[str, Any] | None) -> float | None:
    """What a workload's pods request per month (None: not a workload with a pod template)."""
    spec = (obj or {}).get("spec") or {}
    if "template" not in spec:
        return None
    assert obj is not None
    cores, memory = pod_requests(obj)
    replicas = spec.get("replicas")
    return env.pricing.monthly(cores, memory) * (1 if replicas is None else int(replicas))


def _path(group: str, api_version: str, plural: str, namespace: str) -> str:
    prefix = "/api/v1" if not group else f"/apis/{api_version}"
    return f"{prefix}/namespaces/{namespace}/{plural}"


def _fact(doc: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    """Labels (live and new), replicas and resource changes the guardrails judge."""
    live_labels = ((current or {}).get("metadata") or {}).get("labels") or {}
    merged = {**doc, "metadata": {**doc["metadata"], "labels": {
        **live_labels, **(doc["metadata"].get("labels") or {})}}}
    extra: dict[str, Any] = {"lacking": lacking(doc)}
    spec, live = doc.get("spec") or {}, (current or {}).get("spec") or {}
    if "template" in spec and spec.get("replicas") is not None and doc["kind"] != "Job":
        before = int(live.get("replicas", 1)) if current else 0
        if before != spec["replicas"]:
            extra["replicas"] = [before, spec["replicas"]]
    change = resource_change_pct(current, doc)
    if change is not None:
        extra["resource_change_pct"] = change
    return fact(doc["kind"], merged, **extra)


async def plan_apply(env: ToolEnv, args: ApplyArgs) -> ActionPlan:
    default_ns = env.namespace(args)
    docs = [manifest.check(doc, i) for i, doc in
            enumerate(manifest.load(args.manifest, MAX_DOCUMENTS))]
    checked = [_check(env, doc, i, default_ns) for i, doc in enumerate(docs)]
    _one_namespace(checked, docs, default_ns)
    objects, targets, diffs, seen, facts = [], [], [], set(), []
    costs: list[tuple[float | None, float | None]] = []
    for doc, (group, plural, namespace, name) in zip(docs, checked, strict=True):
        if (plural, namespace, name) in seen:
            raise errors.PlanRefused(f"{doc['kind']} {namespace}/{name} appears twice")
        seen.add((plural, namespace, name))
        doc = {**doc, "metadata": {**doc["metadata"], "namespace": namespace}}
        path = _path(group, doc["apiVersion"], plural, namespace)
        try:
            current = await env.cluster.call("GET", f"{path}/{name}", what=f"read {name}")
        except errors.NotFound:
            current = None
        await require(env, Access(group, plural, "patch" if current else "create"), namespace,
                      name if current else None)
        await dry_run(env, "PATCH", f"{path}/{name}", doc, APPLY_PATCH)
        if current is not None:
            targets.append(target_of(doc["kind"], current))
        before = _project({k: current.get(k) for k in doc if k not in ("metadata", "status")},
                          doc) if current else None
        after = {k: v for k, v in doc.items() if k not in ("metadata", "status")}
        diffs.append(diff(before, after, f"{doc['kind']} {namespace}/{name}"))
        objects.append({"path": path, "name": name, "manifest": doc,
                        "existed_version": (current or {}).get("metadata", {}).get(
                            "resourceVersion")})
        costs.append((_monthly(env, current), _monthly(env, doc)))
        facts.append(_fact(doc, current))
    creates = sum(1 for o in objects if not o["existed_version"])
    return ActionPlan(
        tool="apply_yaml", args=args.model_dump(), workspace=env.ctx.workspace,
        namespace=default_ns, requester=env.ctx.slack_id,
        summary=f"Apply {len(objects)} object(s) ({creates} new, {len(objects) - creates} "
                "changed): " + ", ".join(f"{o['manifest']['kind']} {o['name']}"
                                         for o in objects),
        diff="\n".join(diffs), risk=Risk.MEDIUM if creates == len(objects) else Risk.HIGH,
        payload={"objects": objects}, targets=tuple(targets),
        cost_delta=round(sum((after or 0.0) - (before or 0.0) for before, after in costs), 2)
        if any(after is not None for _, after in costs) else None,
        dry_run="passed (server-side apply, dry run)", facts={"objects": facts})


def _restore(doc: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The previous values of what ``doc`` sets on ``current``, as a manifest: server-side
    applied by the same field manager, it puts back what ``doc`` changed, and the fields ``doc``
    added are no longer in hexabot's configuration, so the API server removes them."""
    meta = current.get("metadata") or {}
    restored: dict[str, Any] = {"name": meta["name"], "namespace": meta["namespace"]}
    for key in ("labels", "annotations"):
        touched = doc["metadata"].get(key) or {}
        before = {k: v for k, v in (meta.get(key) or {}).items() if k in touched}
        if before:
            restored[key] = before
    body = {k: _project(current[k], v) for k, v in doc.items()
            if k not in ("apiVersion", "kind", "metadata", "status") and k in current}
    return {"apiVersion": doc["apiVersion"], "kind": doc["kind"], "metadata": restored, **body}


def _undo(done: list[tuple[dict[str, Any], dict[str, Any] | None]],
          namespace: str) -> tuple[dict[str, Any], ...]:
    """The compensating plan for the objects applied so far: delete what was created, one
    apply_yaml of the previous values of what was changed."""
    steps = [{"tool": "delete_resource", "what": f"delete {_label(obj)} (created)",
              "args": {"kind": obj["manifest"]["kind"].lower(), "name": obj["name"],
                       "namespace": namespace}}
             for obj, before in done if before is None]
    changed = [(obj, before) for obj, before in done if before is not None]
    if changed:
        steps.append({"tool": "apply_yaml", "what": "restore " + ", ".join(
            _label(obj) for obj, _ in changed) + " (changed)", "args": {
                "namespace": namespace, "manifest": yaml.safe_dump_all(
                    [_restore(obj["manifest"], before) for obj, before in changed],
                    sort_keys=False)}})
    return tuple(steps)


def _label(obj: dict[str, Any]) -> str:
    return f"{obj['manifest']['kind']} {obj['name']}"


def _stamped(obj: dict[str, Any], plan: ActionPlan) -> dict[str, Any]:
    manifest = obj["manifest"]
    return {**manifest, "metadata": {**manifest["metadata"], "annotations": {
        **(manifest["metadata"].get("annotations") or {}), PLAN_ANNOTATION: plan.id}}}


def _reworded(exc: errors.ToolError, message: str) -> errors.ToolError:
    exc.message, exc.args = message, (message,)
    return exc


async def _landed(env: ToolEnv, obj: dict[str, Any], plan: ActionPlan) -> bool | None:
    """Whether a write whose answer was an API server failure took effect (None: unknown)."""
    try:
        current = await env.cluster.call("GET", f"{obj['path']}/{obj['name']}",
                                         what=f"read {obj['name']}")
    except errors.NotFound:
        return False
    except errors.ToolError:
        return None
    return executed_already(current, plan)


async def execute_apply(env: ToolEnv, plan: ActionPlan) -> ToolResult:
    """Check every object (unchanged since the plan), dry-run every object, then apply them in
    order; a failure part-way raises :class:`~tools.errors.PartiallyApplied` naming what was
    and was not applied, with the plan that undoes it."""
    pending: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for obj in plan.payload["objects"]:  # check everything before changing anything
        try:
            current = await env.cluster.call("GET", f"{obj['path']}/{obj['name']}",
                                             what=f"read {obj['name']}")
        except errors.NotFound:
            current = None
        if executed_already(current, plan):
            continue
        if (current or {}).get("metadata", {}).get("resourceVersion") != obj["existed_version"]:
            manifest = obj["manifest"]
            target = Target(manifest["kind"], manifest["metadata"]["namespace"], obj["name"],
                            resource_version=obj["existed_version"] or "(absent)")
            raise stale(target, current or {"metadata": {"resourceVersion": "(created)"}})
        pending.append((obj, current))
    for obj, _ in pending:  # the API server validates everything before anything changes
        try:
            await dry_run(env, "PATCH", f"{obj['path']}/{obj['name']}", _stamped(obj, plan),
                          APPLY_PATCH)
        except errors.ToolError as exc:
            _reworded(exc, f"{_label(obj)} failed its server-side dry run at execution "
                           f"({exc.message}); nothing was applied.")
            raise
    for index, (obj, _) in enumerate(pending):
        try:
            await env.cluster.call("PATCH", f"{obj['path']}/{obj['name']}",
                                   body=_stamped(obj, plan),
                                   query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
                                   content_type=APPLY_PATCH, what=f"apply {obj['name']}")
        except errors.ToolError as exc:
            landed = (await _landed(env, obj, plan)
                      if isinstance(exc, errors.Unavailable) else False)
            raise _partial(plan, pending, index, exc, landed) from exc
    if not pending:
        return ToolResult("Every object of this plan was already applied; nothing changed.",
                          {"changed": False})
    return ToolResult(f"Applied {len(pending)} object(s): " + ", ".join(
        _label(o) for o, _ in pending), {"changed": True})


def _partial(plan: ActionPlan, pending: list[tuple[dict[str, Any], dict[str, Any] | None]],
             index: int, exc: errors.ToolError, landed: bool | None) -> errors.ToolError:
    """The error for an apply that failed at ``pending[index]``: the original error when
    nothing was applied, else :class:`~tools.errors.PartiallyApplied`."""
    failed = _label(pending[index][0])
    done = pending[:index + 1] if landed else pending[:index]
    rest = [_label(o) for o, _ in pending[index + (0 if landed is False else 1):]]
    why = {True: f"{failed} was applied although the API server answered with an error "
                 f"({exc.message})",
           None: f"{failed} may or may not have been applied: the API server did not confirm "
                 f"({exc.message}); check it before anything else",
           False: f"{failed} failed: {exc.message}"}[landed]
    if not done:
        return _reworded(exc, f"{why}. Nothing was applied.")
    applied = tuple(_label(o) for o, _ in done)
    message = (f"Partially applied: {why}. Applied: {', '.join(applied)}. Not applied: "
               f"{', '.join(rest) or 'none'}.")
    return errors.PartiallyApplied(message, applied=applied, not_applied=tuple(rest),
                                   undo=_undo(done, plan.namespace), status=exc.status,
                                   reason=exc.reason, audit_id=exc.audit_id)
