"""What every WRITE tool shares: the permission pre-check, dry runs, preconditions and diffs."""

from __future__ import annotations

import difflib
from typing import Any

import yaml

from tools import errors, quantity
from tools.kube.access import Access, allowed
from tools.spec import ActionPlan, Target, ToolEnv

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
FIELD_MANAGER = "hexabot"
# The most replicas any write tool sets (scale_deployment, apply_yaml's workloads and HPAs).
MAX_REPLICAS = 100


async def require(env: ToolEnv, access: Access, namespace: str, name: str | None = None) -> None:
    """Refuse to plan what the user may not do (the API server enforces it again anyway)."""
    ok, _ = await allowed(env.cluster, access, namespace, name)
    if not ok:
        target = f"{access.resource} {name!r}" if name else access.resource
        raise errors.Forbidden(
            f"{env.ctx.name} may not {access.describe()} in namespace {namespace!r} "
            f"(checked for {target}); ask a cluster admin for that permission.", status=403,
            reason="Forbidden")


async def dry_run(env: ToolEnv, method: str, path: str, body: Any,
                  content_type: str = "application/json") -> str:
    """Ask the API server to validate the change without persisting it."""
    query = [("dryRun", "All")]
    if content_type == APPLY_PATCH:
        query.append(("fieldManager", FIELD_MANAGER))
    try:
        await env.cluster.call(method, path, query=query, body=body, content_type=content_type,
                               what="server-side dry run")
    except (errors.InvalidArguments, errors.Conflict) as exc:
        raise errors.PlanRefused(f"the API server rejects this change: {exc.message}",
                                 status=exc.status, reason=exc.reason) from exc
    return "passed (server-side dry run)"


def stale(target: Target, current: dict[str, Any]) -> errors.Conflict:
    return errors.Conflict(
        f"{target.kind} {target.namespace}/{target.name} changed since the plan "
        f"(resourceVersion {target.resource_version} → "
        f"{current['metadata'].get('resourceVersion')}); nothing was applied — make a new plan.",
        status=409, reason="Conflict")


def target_of(kind: str, obj: dict[str, Any]) -> Target:
    meta = obj["metadata"]
    return Target(kind=kind, namespace=meta.get("namespace", ""), name=meta["name"],
                  uid=meta.get("uid", ""), resource_version=meta.get("resourceVersion", ""))


class Plain(yaml.SafeDumper):
    """YAML for people: a value used twice is written twice, never as an ``&id001`` anchor
    and its ``*id001`` alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(obj: Any, sort_keys: bool = True) -> str:
    return yaml.dump(obj, Dumper=Plain, sort_keys=sort_keys)


def dump_all(objs: list[Any], sort_keys: bool = False) -> str:
    return yaml.dump_all(objs, Dumper=Plain, sort_keys=sort_keys)


def diff(before: Any, after: Any, label: str) -> str:
    old = dump(before).splitlines() if before is not None else []
    new = dump(after).splitlines() if after is not None else []
    return "\n".join(difflib.unified_diff(old, new, f"{label} (now)", f"{label} (after)",
                                          lineterm="", n=1))


def executed_already(obj: dict[str, Any] | None, plan: ActionPlan) -> bool:
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    return bool(annotations.get("hexabot.io/plan-id") == plan.id)


def pod_requests(workload: dict[str, Any]) -> tuple[float, float]:
    """(cores, bytes) one pod of a workload's template requests."""
    cores = memory = 0.0
    template = ((workload.get("spec") or {}).get("template") or {}).get("spec") or {}
    for c in template.get("containers") or []:
        requests = (c.get("resources") or {}).get("requests") or {}
        cores += quantity.parse(requests.get("cpu")) or 0.0
        memory += quantity.parse(requests.get("memory")) or 0.0
    return cores, memory


def templates(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod templates (``{metadata, spec}``) of a workload: ``spec.template`` (Deployment,
    StatefulSet, Job, …) and ``spec.jobTemplate.spec.template`` (CronJob)."""
    spec = obj.get("spec") or {}
    found = [spec.get("template"),
             ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")]
    return [t for t in found if isinstance(t, dict)]


def pod_templates(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod specs of :func:`templates`."""
    return [t["spec"] for t in templates(obj) if isinstance(t.get("spec"), dict)]


def lacking(obj: dict[str, Any]) -> dict[str, list[str]]:
    """Containers of a manifest's pod templates without resources or probes."""
    missing: dict[str, list[str]] = {"resources": [], "probes": []}
    label = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
    for pod in pod_templates(obj):
        for c in pod.get("containers") or []:
            resources = c.get("resources") or {}
            if not resources.get("requests") or not resources.get("limits"):
                missing["resources"].append(f"{label}: {c.get('name')}")
            if not c.get("readinessProbe") or not c.get("livenessProbe"):
                missing["probes"].append(f"{label}: {c.get('name')}")
    return {k: v for k, v in missing.items() if v}


def _amounts(obj: dict[str, Any]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for pod in pod_templates(obj):
        for c in pod.get("containers") or []:
            for level in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    value = quantity.parse(((c.get("resources") or {}).get(level) or {}).get(
                        resource))
                    if value:
                        key = f"{level}.{resource}"
                        totals[key] = totals.get(key, 0.0) + value
    return totals


def resource_change_pct(before: dict[str, Any] | None, after: dict[str, Any]) -> float | None:
    """The largest relative change of any CPU/memory request or limit (None: nothing to
    compare)."""
    if before is None:
        return None
    old, new = _amounts(before), _amounts(after)
    changes = [abs(new.get(k, 0.0) - v) / v * 100 for k, v in old.items() if v and k in new]
    return round(max(changes), 1) if changes else None


def fact(kind: str, obj: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """What the guardrails judge about one object the plan touches."""
    meta = obj.get("metadata") or {}
    return {"kind": kind, "namespace": meta.get("namespace", ""), "name": meta.get("name", ""),
            "labels": dict(meta.get("labels") or {}), **extra}


OWNER_PATHS = {"ReplicaSet": "/apis/apps/v1/namespaces/{ns}/replicasets/{name}",
               "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments/{name}",
               "StatefulSet": "/apis/apps/v1/namespaces/{ns}/statefulsets/{name}",
               "DaemonSet": "/apis/apps/v1/namespaces/{ns}/daemonsets/{name}",
               "Job": "/apis/batch/v1/namespaces/{ns}/jobs/{name}",
               "CronJob": "/apis/batch/v1/namespaces/{ns}/cronjobs/{name}"}


async def owner_facts(env: ToolEnv, obj: dict[str, Any], depth: int = 3) -> list[dict[str, Any]]:
    """Facts about the controllers above ``obj`` (pod → ReplicaSet → Deployment), so a
    guardrail protecting a workload also covers deleting its pods one by one.  Owners the
    user cannot read are left out (the plan still shows the pod itself)."""
    found: list[dict[str, Any]] = []
    namespace = (obj.get("metadata") or {}).get("namespace", "")
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        path = OWNER_PATHS.get(str(ref.get("kind")))
        if path is None or depth == 0:
            continue
        try:
            owner = await env.cluster.call("GET", path.format(ns=namespace, name=ref["name"]),
                                           what=f"read {ref['kind']} {ref['name']}")
        except (errors.Forbidden, errors.NotFound):
            continue
        found.append(fact(str(ref["kind"]), owner))
        found += await owner_facts(env, owner, depth - 1)
    return found
