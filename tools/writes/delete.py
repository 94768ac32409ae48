"""delete_resource: delete one object of an allowlisted kind, showing what hangs on it.

The plan reads the object and lists what owns it (its controller would recreate it) and what
depends on it: objects it owns (garbage-collected with it), Services and PodDisruptionBudgets
selecting its pods, Ingresses routing to a Service, autoscalers targeting a workload, pods and
workloads mounting a ConfigMap.  Execution deletes with the recorded uid and resourceVersion as
preconditions (a changed object is a conflict, not a surprise; for kinds whose controllers keep
writing their status, :data:`STATUS_WRITTEN`, a changed spec generation or labels) and is
idempotent: an object
already gone is reported, not an error.  Secrets, PVCs (data), namespaces and RBAC are not in
the allowlist.
"""

from __future__ import annotations

from typing import Any, Literal

from tools import errors
from tools.args import Name, ToolArgs
from tools.kube.access import Access
from tools.spec import ActionPlan, Risk, ToolEnv, ToolResult
from tools.writes.common import fact, owner_facts, require, target_of

# kind argument -> (Kind, API path prefix, plural)
KINDS: dict[str, tuple[str, str, str]] = {
    "deployment": ("Deployment", "/apis/apps/v1", "deployments"),
    "statefulset": ("StatefulSet", "/apis/apps/v1", "statefulsets"),
    "service": ("Service", "/api/v1", "services"),
    "configmap": ("ConfigMap", "/api/v1", "configmaps"),
    "job": ("Job", "/apis/batch/v1", "jobs"),
    "cronjob": ("CronJob", "/apis/batch/v1", "cronjobs"),
    "pod": ("Pod", "/api/v1", "pods"),
    "ingress": ("Ingress", "/apis/networking.k8s.io/v1", "ingresses"),
    "horizontalpodautoscaler": ("HorizontalPodAutoscaler", "/apis/autoscaling/v2",
                                "horizontalpodautoscalers"),
    "poddisruptionbudget": ("PodDisruptionBudget", "/apis/policy/v1", "poddisruptionbudgets"),
}
GROUPS = {"/api/v1": ""} | {p: p.split("/")[2] for _, p, _ in KINDS.values() if p != "/api/v1"}
ACCESS = tuple(Access(GROUPS[prefix], plural, "delete") for _, prefix, plural in KINDS.values())
# Kinds whose controllers keep writing their status: a deletion is refused when their spec
# (generation), uid or labels changed since the plan, not on every status update.
STATUS_WRITTEN = frozenset({"deployment", "statefulset", "job", "cronjob",
                            "horizontalpodautoscaler", "poddisruptionbudget"})
CONFIGMAP_REFS = ("configMap", "configMapRef", "configMapKeyRef")
SHOWN = 8


class DeleteArgs(ToolArgs):
    kind: Literal["deployment", "statefulset", "service", "configmap", "job", "cronjob", "pod",
                  "ingress", "horizontalpodautoscaler", "poddisruptionbudget"]
    name: Name


def delete_access(args: DeleteArgs) -> Access:
    _, prefix, plural = KINDS[args.kind]
    return Access(GROUPS[prefix], plural, "delete")


def _path(namespace: str, kind: str, name: str | None = None) -> str:
    _, prefix, plural = KINDS[kind]
    return f"{prefix}/namespaces/{namespace}/{plural}" + (f"/{name}" if name else "")


async def _list(env: ToolEnv, namespace: str, kind: str,
                unseen: list[str]) -> list[dict[str, Any]]:
    try:
        found = await env.cluster.call("GET", _path(namespace, kind),
                                       what=f"list {KINDS[kind][2]}")
    except (errors.Forbidden, errors.NotFound):
        unseen.append(KINDS[kind][2])  # said in the plan: the list may be incomplete
        return []
    return list(found.get("items") or [])


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted = selector.get("matchLabels", selector) if isinstance(selector, dict) else {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items()
                                if isinstance(v, str))


def _refs(node: Any, keys: tuple[str, ...]) -> set[str]:
    """Names in ``{key: {name: …}}`` anywhere in ``node`` (Ingress backends, ConfigMap uses)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in keys and isinstance(value, dict) and isinstance(value.get("name"), str):
                found.add(value["name"])
            found |= _refs(value, keys)
    elif isinstance(node, list):
        for item in node:
            found |= _refs(item, keys)
    return found


def _name(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["name"])


async def dependents(env: ToolEnv, namespace: str, kind: str,
                     obj: dict[str, Any]) -> list[str]:
    """What would break or go away with ``obj`` (bounded, as readable lines)."""
    uid = obj["metadata"].get("uid")
    spec = obj.get("spec") or {}
    found: list[str] = []
    unseen: list[str] = []
    if kind in ("deployment", "statefulset", "job", "cronjob"):
        owned = {"deployment": ["ReplicaSet"], "statefulset": ["Pod"], "job": ["Pod"],
                 "cronjob": ["Job"]}[kind]
        lists = {"ReplicaSet": ("/apis/apps/v1", "replicasets"), "Pod": ("/api/v1", "pods"),
                 "Job": ("/apis/batch/v1", "jobs")}
        for owned_kind in owned:
            prefix, plural = lists[owned_kind]
            try:
                items = (await env.cluster.call(
                    "GET", f"{prefix}/namespaces/{namespace}/{plural}",
                    what=f"list {plural}")).get("items") or []
            except errors.Forbidden:
                unseen.append(plural)
                continue
            mine = [_name(o) for o in items if any(
                r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])]
            if mine:
                found.append(f"owns {owned_kind} {', '.join(mine[:SHOWN])} (deleted with it)")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if kind in ("deployment", "statefulset") and labels:
        for svc in await _list(env, namespace, "service", unseen):
            if _selects((svc.get("spec") or {}).get("selector") or {}, labels):
                found.append(f"Service {_name(svc)} selects its pods (no endpoints after)")
        for pdb in await _list(env, namespace, "poddisruptionbudget", unseen):
            if _selects((pdb.get("spec") or {}).get("selector") or {}, labels):
                found.append(f"PodDisruptionBudget {_name(pdb)} guards its pods")
        for hpa in await _list(env, namespace, "horizontalpodautoscaler", unseen):
            ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
            if ref.get("name") == _name(obj) and ref.get("kind") == KINDS[kind][0]:
                found.append(f"HorizontalPodAutoscaler {_name(hpa)} scales it")
    if kind == "service":
        for ing in await _list(env, namespace, "ingress", unseen):
            if _name(obj) in _refs(ing.get("spec"), ("service",)):
                found.append(f"Ingress {_name(ing)} routes to it")
    if kind == "configmap":
        for workload in ("deployment", "statefulset", "cronjob"):
            for item in await _list(env, namespace, workload, unseen):
                if _name(obj) in _refs(item.get("spec"), CONFIGMAP_REFS):
                    found.append(f"{KINDS[workload][0]} {_name(item)} mounts or reads it")
    found = found[:SHOWN * 2]
    if unseen:
        found.append(f"(not visible to you, so not checked: {', '.join(sorted(set(unseen)))})")
    return found


async def plan_delete(env: ToolEnv, args: DeleteArgs) -> ActionPlan:
    namespace = env.namespace(args)
    await require(env, delete_access(args), namespace, args.name)
    kind = KINDS[args.kind][0]
    obj = await env.cluster.call("GET", _path(namespace, args.kind, args.name),
                                 what=f"read {args.kind} {namespace}/{args.name}")
    target = target_of(kind, obj)
    owners = [f"{o.get('kind')} {o.get('name')}" + (" (its controller: it will be recreated)"
                                                     if o.get("controller") else "")
              for o in obj["metadata"].get("ownerReferences") or []]
    hangs = await dependents(env, namespace, args.kind, obj)
    real = [h for h in hangs if not h.startswith("(")]
    lines = [f"{kind} {namespace}/{args.name}: deleted (uid {target.uid})"]
    lines += [f"owned by {o}" for o in owners] or ["owned by nothing"]
    lines += hangs if real else ["nothing found that depends on it", *hangs]
    payload = {"path": _path(namespace, args.kind, args.name),
               "body": {"kind": "DeleteOptions", "apiVersion": "v1",
                        "propagationPolicy": "Background",
                        "preconditions": {"uid": target.uid,
                                          "resourceVersion": target.resource_version}}}
    if args.kind in STATUS_WRITTEN:
        payload["unchanged"] = _unchanged(obj)
    return ActionPlan(
        tool="delete_resource", args=args.model_dump(), workspace=env.ctx.workspace,
        namespace=namespace, requester=env.ctx.slack_id,
        summary=f"Delete {kind} {namespace}/{args.name}"
                + (f" ({len(real)} thing(s) depend on it)" if real else ""),
        diff="\n".join(lines), risk=Risk.HIGH, payload=payload, targets=(target,),
        dry_run="not run (deletion; preconditions uid + "
                + ("spec generation and labels" if "unchanged" in payload
                   else "resourceVersion") + ")",
        facts={"objects": [fact(kind, obj, owners=owners, dependents=hangs),
                           *await owner_facts(env, obj)]})


def _unchanged(obj: dict[str, Any]) -> dict[str, Any]:
    """What must not change between plan and deletion of a kind whose controller keeps writing
    its status (each write a new resourceVersion): its uid, spec generation and labels."""
    meta = obj.get("metadata") or {}
    return {"uid": meta.get("uid"), "generation": meta.get("generation"),
            "labels": meta.get("labels") or {}}


async def _body(env: ToolEnv, plan: ActionPlan) -> dict[str, Any]:
    """The DeleteOptions: as planned, or — for a kind with a busy status — preconditioned on the
    current resourceVersion once its spec, uid and labels are checked to be the planned ones."""
    body: dict[str, Any] = plan.payload["body"]
    if "unchanged" not in plan.payload:
        return body
    target = plan.targets[0]
    current = await env.cluster.call("GET", plan.payload["path"],
                                     what=f"read {target.kind} {target.name}")
    if _unchanged(current) != plan.payload["unchanged"]:
        raise errors.Conflict("its uid, spec generation or labels changed since the plan",
                              status=409, reason="Conflict")
    return {**body, "preconditions": {**body["preconditions"], "resourceVersion":
                                      current["metadata"]["resourceVersion"]}}


async def execute_delete(env: ToolEnv, plan: ActionPlan) -> ToolResult:
    target = plan.targets[0]
    try:
        await env.cluster.call("DELETE", plan.payload["path"], body=await _body(env, plan),
                               content_type="application/json",
                               what=f"delete {target.kind} {target.name}")
    except errors.NotFound:
        return ToolResult(f"{target.kind} {target.namespace}/{target.name} is already gone; "
                          "nothing changed.", {"changed": False})
    except errors.Conflict as exc:
        raise errors.Conflict(f"{target.kind} {target.namespace}/{target.name} changed since "
                              "the plan (its uid, spec, labels or version differ); nothing was "
                              "deleted "
                              "— make a new plan.", status=409, reason="Conflict") from exc
    return ToolResult(f"Deleted {target.kind} {target.namespace}/{target.name}.",
                      {"changed": True})
