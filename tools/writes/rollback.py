"""rollback_deployment: put a Deployment's pod template back to an earlier revision's.

What ``kubectl rollout undo`` does: the revisions are the ReplicaSets the Deployment owns
(``tools.reads.rollouts``); the chosen one's template, without ``pod-template-hash``, replaces
``spec.template``.  The controller then takes that ReplicaSet up again under a new revision
number.  The plan shows the template diff and records the Deployment's uid, spec generation
and labels: its controller keeps writing status (each write a new resourceVersion), so a
rollback is refused only when those changed; the patch itself carries the resourceVersion read
just before it, so a change in between is a conflict too.  Execution marks the Deployment
(not its template, which must equal the revision's) with the plan id, so a replay changes
nothing.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tools import errors
from tools.args import Name, ToolArgs
from tools.kube.access import Access
from tools.reads.rollouts import (
    Revision,
    clean_template,
    deployment_path,
    images,
    owned_by,
    revision_of,
    selector_query,
)
from tools.spec import PLAN_ANNOTATION, ActionPlan, Risk, ToolEnv, ToolResult
from tools.writes.common import (
    FIELD_MANAGER,
    STRATEGIC_PATCH,
    diff,
    dry_run,
    executed_already,
    fact,
    lacking,
    pod_requests,
    require,
    resource_change_pct,
    target_of,
)

ROLLBACK = Access("apps", "deployments", "patch")


class RollbackArgs(ToolArgs):
    name: Name
    revision: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                 description="revision to go back to; default: the previous one")


def _unchanged(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {"uid": meta.get("uid"), "generation": meta.get("generation"),
            "labels": meta.get("labels") or {}}


def _listing(revisions: list[Revision], current: Revision | None) -> str:
    return ", ".join(f"{r.number}" + (" (current)" if r is current else "")
                     for r in revisions) or "none"


def choose(revisions: list[Revision], template: dict[str, Any], wanted: int | None,
           where: str) -> tuple[Revision, Revision | None]:
    """(the revision to roll back to, the current one), or an error naming what exists."""
    current = next((r for r in reversed(revisions) if r.template == template), None)
    if wanted is None:
        older = [r for r in revisions if r is not current
                 and (current is None or r.number < current.number)]
        if not older:
            raise errors.PlanRefused(
                f"deployment {where} has no previous revision to roll back to (revisions: "
                f"{_listing(revisions, current)}).")
        return older[-1], current
    found = next((r for r in revisions if r.number == wanted), None)
    if found is None:
        reused = next((r for r in revisions if wanted in r.earlier), None)
        hint = (f"; revision {wanted} was taken up again as revision {reused.number} (the "
                "same template)") if reused else ""
        raise errors.InvalidArguments(
            f"deployment {where} has no revision {wanted}; its revisions: "
            f"{_listing(revisions, current)}{hint}.")
    if found.template == template:
        raise errors.PlanRefused(
            f"deployment {where} already runs the template of revision {wanted}; nothing to "
            "roll back.")
    return found, current


async def plan_rollback(env: ToolEnv, args: RollbackArgs) -> ActionPlan:
    namespace = env.namespace(args)
    where = f"{namespace}/{args.name}"
    await require(env, ROLLBACK, namespace, args.name)
    deployment = await env.cluster.call("GET", deployment_path(namespace, args.name),
                                        what=f"read deployment {where}")
    spec = deployment.get("spec") or {}
    if spec.get("paused"):
        raise errors.PlanRefused(f"deployment {where} is paused; resume its rollout first, "
                                 "then roll back.")
    listing = await env.cluster.call("GET", f"/apis/apps/v1/namespaces/{namespace}/replicasets",
                                     query=selector_query(deployment),
                                     what=f"list replicasets of {where}")
    revisions = owned_by(list(listing.get("items") or []), deployment)
    now = clean_template(spec.get("template"))
    chosen, current = choose(revisions, now, args.revision, where)
    number = current.number if current else revision_of(deployment)
    target = target_of("Deployment", deployment)
    body = {"metadata": {"resourceVersion": target.resource_version},
            "spec": {"template": {"$patch": "replace", **chosen.template}}}
    checked = await dry_run(env, "PATCH", deployment_path(namespace, args.name), body,
                            STRATEGIC_PATCH)
    replicas = spec.get("replicas", 1)
    before, after = {"spec": {"template": now}}, {"spec": {"template": chosen.template}}
    cores_now, memory_now = pod_requests(before)
    cores, memory = pod_requests(after)
    delta = (env.pricing.monthly(cores, memory) - env.pricing.monthly(cores_now, memory_now)) \
        * replicas
    manifest = {"kind": "Deployment", "metadata": deployment["metadata"], **after}
    return ActionPlan(
        tool="rollback_deployment", args=args.model_dump(), workspace=env.ctx.workspace,
        namespace=namespace, requester=env.ctx.slack_id,
        summary=f"Roll back deployment {where} from revision {number or '?'} to revision "
                f"{chosen.number} ({images(chosen.template)}; {replicas} pods replaced)",
        diff=diff(now, chosen.template, f"deployment {args.name} spec.template"),
        risk=Risk.MEDIUM if replicas > 1 else Risk.HIGH,
        payload={"path": deployment_path(namespace, args.name), "patch": body,
                 "unchanged": _unchanged(deployment), "revision": chosen.number,
                 "replicaset": chosen.name},
        targets=(target,), cost_delta=round(delta, 2), dry_run=checked,
        facts={"objects": [fact("Deployment", deployment,
                                revision=[number, chosen.number],
                                resource_change_pct=resource_change_pct(before, after),
                                lacking=lacking(manifest))]})


async def execute_rollback(env: ToolEnv, plan: ActionPlan) -> ToolResult:
    target = plan.targets[0]
    where = f"{target.namespace}/{target.name}"
    try:
        current = await env.cluster.call("GET", plan.payload["path"],
                                         what=f"read deployment {where}")
    except errors.NotFound as exc:
        raise errors.Conflict(f"deployment {where} is gone since the plan; nothing was "
                              "applied.", status=409, reason="Conflict") from exc
    if executed_already(current, plan):
        return ToolResult(f"The rollback of {where} from this plan was already done; nothing "
                          "changed.", {"changed": False})
    was, now = plan.payload["unchanged"], _unchanged(current)
    said = {"uid": f"it was re-created (uid {now['uid']})",
            "generation": f"its spec changed (generation {was['generation']} → "
                          f"{now['generation']})",
            "labels": "its labels changed"}
    changed = [said[key] for key in said if now[key] != was[key]]
    if changed:
        raise errors.Conflict(f"deployment {where} changed since the plan ({'; '.join(changed)})"
                              "; nothing was applied — make a new plan.", status=409,
                              reason="Conflict")
    patch = plan.payload["patch"]
    body = {"metadata": {"resourceVersion": current["metadata"].get("resourceVersion"),
                         "annotations": {PLAN_ANNOTATION: plan.id}}, "spec": patch["spec"]}
    try:
        await env.cluster.call("PATCH", plan.payload["path"], body=body,
                               query=[("fieldManager", FIELD_MANAGER)],
                               content_type=STRATEGIC_PATCH, what=f"roll back {where}")
    except errors.Conflict as exc:
        raise errors.Conflict(f"deployment {where} changed while rolling back; nothing was "
                              "applied — make a new plan.", status=409,
                              reason="Conflict") from exc
    return ToolResult(f"Rolled back deployment {where} to the template of revision "
                      f"{plan.payload['revision']} (ReplicaSet {plan.payload['replicaset']}); "
                      "it becomes the newest revision.",
                      {"changed": True, "revision": plan.payload["revision"]})
