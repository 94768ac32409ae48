"""Did a plan's change reach the cluster?  For recovery after a crash mid-execution.

Answers True (its mark or wanted state is there), False (it is not), or None (the cluster
cannot tell, e.g. a deleted pod may have been deleted by someone else).  Reads only: recovery
never executes anything.
"""

from __future__ import annotations

from typing import Any

from tools import errors
from tools.spec import PLAN_ANNOTATION, ActionPlan, ToolEnv


async def _get(env: ToolEnv, path: str) -> dict[str, Any] | None:
    try:
        found = await env.cluster.call("GET", path, what="verify plan")
    except errors.NotFound:
        return None
    return dict(found)


def _marked(obj: dict[str, Any] | None, plan: ActionPlan) -> bool:
    return ((obj or {}).get("metadata") or {}).get("annotations", {}).get(
        PLAN_ANNOTATION) == plan.id


async def applied(env: ToolEnv, plan: ActionPlan) -> bool | None:
    target = plan.targets[0] if plan.targets else None
    if plan.tool == "scale_deployment" and target:
        obj = await _get(env, f"/apis/apps/v1/namespaces/{target.namespace}/deployments/"
                              f"{target.name}")
        return bool(obj and obj["spec"].get("replicas") == plan.payload["spec"]["replicas"])
    if plan.tool == "restart" and target and target.kind == "Pod":
        pod = await _get(env, f"/api/v1/namespaces/{target.namespace}/pods/{target.name}")
        return False if pod and pod["metadata"].get("uid") == target.uid else None
    if plan.tool == "restart" and target:
        obj = await _get(env, f"/apis/apps/v1/namespaces/{target.namespace}/deployments/"
                              f"{target.name}")
        return _marked(((obj or {}).get("spec") or {}).get("template"), plan)
    if plan.tool == "rollback_deployment" and target:
        return _marked(await _get(env, f"/apis/apps/v1/namespaces/{target.namespace}/"
                                       f"deployments/{target.name}"), plan)
    if plan.tool == "update_configmap" and target:
        return _marked(await _get(env, f"/api/v1/namespaces/{target.namespace}/configmaps/"
                                       f"{target.name}"), plan)
    if plan.tool in ("create_cronjob", "create_backup_job", "create_backup_cronjob"):
        manifest = plan.payload["manifest"]
        return _marked(await _get(env, f"{plan.payload['path']}/{manifest['metadata']['name']}"),
                       plan)
    if plan.tool == "apply_yaml":
        marks = [_marked(await _get(env, f"{o['path']}/{o['name']}"), plan)
                 for o in plan.payload["objects"]]
        return True if all(marks) else (False if not any(marks) else None)
    return None
