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


async def require(env: ToolEnv, access: Access, namespace: str, name: str | None = None) -> None:
    """Refuse to plan what the user may not do (the API server enforces it again anyway)."""
    ok, _ = await allowed(env.cluster, access, namespace, name)
    if not ok:
        target = f"{access.resource} {name!r}" if name else access.resource
        raise errors.Forbidden(
            f"{env.ctx.name} may not {access.describe()} in namespace {namespace!r} "
            f"(checked for {target}); ask a cluster admin for that permission.", code=403,
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
                                 code=exc.code, reason=exc.reason) from exc
    return "passed (server-side dry run)"


def stale(target: Target, current: dict[str, Any]) -> errors.Conflict:
    return errors.Conflict(
        f"{target.kind} {target.namespace}/{target.name} changed since the plan "
        f"(resourceVersion {target.resource_version} → "
        f"{current['metadata'].get('resourceVersion')}); nothing was applied — make a new plan.",
        code=409, reason="Conflict")


def target_of(kind: str, obj: dict[str, Any]) -> Target:
    meta = obj["metadata"]
    return Target(kind=kind, namespace=meta.get("namespace", ""), name=meta["name"],
                  uid=meta.get("uid", ""), resource_version=meta.get("resourceVersion", ""))


def diff(before: Any, after: Any, label: str) -> str:
    old = yaml.safe_dump(before, sort_keys=True).splitlines() if before is not None else []
    new = yaml.safe_dump(after, sort_keys=True).splitlines() if after is not None else []
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
