"""scale_deployment, restart and update_configmap: changes to existing objects.

Each plan reads the object, records its uid and resourceVersion, computes the exact patch and
runs it as a server-side dry run.  Execution sends that patch with the recorded resourceVersion
as a precondition (a changed object is a clear conflict, not a silent overwrite) and is
idempotent: a replayed plan finds its own mark (or the wanted state) and changes nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field, field_validator

from tools import errors
from tools.args import Name, ToolArgs
from tools.kube.access import Access
from tools.spec import PLAN_ANNOTATION, ActionPlan, Risk, ToolEnv, ToolResult
from tools.writes.common import (
    MAX_REPLICAS,
    MERGE_PATCH,
    STRATEGIC_PATCH,
    diff,
    dry_run,
    executed_already,
    fact,
    owner_facts,
    pod_requests,
    require,
    stale,
    target_of,
)

SCALE = Access("apps", "deployments", "patch", "scale")
RESTART_DEPLOYMENT = Access("apps", "deployments", "patch")
DELETE_POD = Access("", "pods", "delete")
PATCH_CONFIGMAP = Access("", "configmaps", "patch")


def _deployment_path(namespace: str, name: str) -> str:
    return f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"


class ScaleArgs(ToolArgs):
    name: Name
    replicas: int = Field(ge=0, le=MAX_REPLICAS)


async def plan_scale(env: ToolEnv, args: ScaleArgs) -> ActionPlan:
    namespace = env.namespace(args)
    await require(env, SCALE, namespace, args.name)
    deployment = await env.cluster.call("GET", _deployment_path(namespace, args.name),
                                        what=f"read deployment {namespace}/{args.name}")
    current = (deployment.get("spec") or {}).get("replicas", 1)
    if current == args.replicas:
        raise errors.PlanRefused(f"{namespace}/{args.name} already has {current} replicas; "
                                 "nothing to change.")
    cores, memory = pod_requests(deployment)
    delta = env.pricing.monthly(cores, memory) * (args.replicas - current)
    target = target_of("Deployment", deployment)
    body = {"metadata": {"resourceVersion": target.resource_version},
            "spec": {"replicas": args.replicas}}
    checked = await dry_run(env, "PATCH", _deployment_path(namespace, args.name) + "/scale",
                            body, MERGE_PATCH)
    risk = Risk.HIGH if args.replicas == 0 else (
        Risk.MEDIUM if args.replicas < current or env.ctx.needs_two_people(namespace)
        else Risk.LOW)
    return ActionPlan(
        tool="scale_deployment", args=args.model_dump(), workspace=env.ctx.workspace,
        namespace=namespace, requester=env.ctx.slack_id,
        summary=f"Scale deployment {namespace}/{args.name} from {current} to {args.replicas} "
                f"replicas",
        diff=f"spec.replicas: {current} → {args.replicas}", risk=risk, payload=body,
        targets=(target,), cost_delta=round(delta, 2), dry_run=checked,
        facts={"objects": [fact("Deployment", deployment, replicas=[current, args.replicas])]})


async def execute_scale(env: ToolEnv, plan: ActionPlan) -> ToolResult:
    target, wanted = plan.targets[0], plan.payload["spec"]["replicas"]
    path = _deployment_path(target.namespace, target.name)
    current = await env.cluster.call("GET", path, what=f"read deployment {target.name}")
    if current["metadata"].get("resourceVersion") != target.resource_version:
        if (current.get("spec") or {}).get("replicas") == wanted:
            return ToolResult(f"{target.namespace}/{target.name} already has {wanted} "
                              "replicas; nothing changed.", {"changed": False})
        raise stale(target, current)
    await env.cluster.call("PATCH", path + "/scale", body=plan.payload,
                           content_type=MERGE_PATCH, what=f"scale {target.name}")
    return ToolResult(f"Scaled {target.namespace}/{target.name} to {wanted} replicas.",
                      {"changed": True, "replicas": wanted})


class RestartArgs(ToolArgs):
    kind: Literal["deployment", "pod"] = "deployment"
    name: Name


def restart_access(args: RestartArgs) -> Access:
    return RESTART_DEPLOYMENT if args.kind == "deployment" else DELETE_POD


async def plan_restart(env: ToolEnv, args: RestartArgs) -> ActionPlan:
    namespace = env.namespace(args)
    await require(env, restart_access(args), namespace, args.name)
    if args.kind == "pod":
        pod = await env.cluster.call("GET", f"/api/v1/namespaces/{namespace}/pods/{args.name}",
                                     what=f"read pod {namespace}/{args.name}")
        owners = [o.get("kind") for o in pod["metadata"].get("ownerReferences") or []]
        return ActionPlan(
            tool="restart", args=args.model_dump(), workspace=env.ctx.workspace,
            namespace=namespace, requester=env.ctx.slack_id,
            summary=f"Delete pod {namespace}/{args.name} so its controller starts a new one",
            diff=f"pod {args.name}: deleted" + ("" if owners else
                                                " (it has no controller: it will NOT return)"),
            risk=Risk.LOW if owners else Risk.HIGH, payload={"delete": "pod"},
            targets=(target_of("Pod", pod),), dry_run="not run (deletion)",
            facts={"objects": [fact("Pod", pod), *await owner_facts(env, pod)]})
    deployment = await env.cluster.call("GET", _deployment_path(namespace, args.name),
                                        what=f"read deployment {namespace}/{args.name}")
    target = target_of("Deployment", deployment)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"metadata": {"resourceVersion": target.resource_version},
            "spec": {"template": {"metadata": {"annotations": {
                "kubectl.kubernetes.io/restartedAt": stamp}}}}}
    checked = await dry_run(env, "PATCH", _deployment_path(namespace, args.name), body,
                            STRATEGIC_PATCH)
    replicas = (deployment.get("spec") or {}).get("replicas", 1)
    return ActionPlan(
        tool="restart", args=args.model_dump(), workspace=env.ctx.workspace,
        namespace=namespace, requester=env.ctx.slack_id,
        summary=f"Rollout restart of deployment {namespace}/{args.name} ({replicas} pods "
                "replaced)",
        diff=f"spec.template.metadata.annotations[kubectl.kubernetes.io/restartedAt]: {stamp}",
        risk=Risk.MEDIUM if replicas > 1 else Risk.HIGH, payload=body, targets=(target,),
        dry_run=checked, facts={"objects": [fact("Deployment", deployment)]})


async def execute_restart(env: ToolEnv, plan: ActionPlan) -> ToolResult:
    target = plan.targets[0]
    if target.kind == "Pod":
        body = {"kind": "DeleteOptions", "apiVersion": "v1",
                "preconditions": {"uid": target.uid}}
        try:
            await env.cluster.call("DELETE", f"/api/v1/namespaces/{target.namespace}/pods/"
                                   f"{target.name}", body=body, content_type="application/json",
                                   what=f"delete pod {target.name}")
        except (errors.NotFound, errors.Conflict):
            return ToolResult(f"Pod {target.namespace}/{target.name} from the plan is already "
                              "gone; nothing changed.", {"changed": False})
        return ToolResult(f"Deleted pod {target.namespace}/{target.name}; its controller "
                          "starts a replacement.", {"changed": True})
    path = _deployment_path(target.namespace, target.name)
    current = await env.cluster.call("GET", path, what=f"read deployment {target.name}")
    template = (current.get("spec") or {}).get("template") or {}
    if executed_already(template, plan):
        return ToolResult(f"The restart of {target.name} from this plan was already done; "
                          "nothing changed.", {"changed": False})
    if current["metadata"].get("resourceVersion") != target.resource_version:
        raise stale(target, current)
    body = {**plan.payload, "spec": {"template": {"metadata": {"annotations": {
        **plan.payload["spec"]["template"]["metadata"]["annotations"],
        PLAN_ANNOTATION: plan.id}}}}}
    await env.cluster.call("PATCH", path, body=body, content_type=STRATEGIC_PATCH,
                           what=f"restart {target.name}")
    return ToolResult(f"Restarted deployment {target.namespace}/{target.name}.",
                      {"changed": True})


class ConfigMapArgs(ToolArgs):
    name: Name
    set: dict[str, str] = Field(default_factory=dict, description="keys to add or change")
    remove: list[str] = Field(default_factory=list, description="keys to delete")

    @field_validator("set", "remove")
    @classmethod
    def _keys(cls, value: dict[str, str] | list[str]) -> dict[str, str] | list[str]:
        for key in value:
            if not re.fullmatch(r"[-._a-zA-Z0-9]{1,253}", key):
                raise ValueError(f"{key!r} is not a valid ConfigMap key")
        return value


async def plan_configmap(env: ToolEnv, args: ConfigMapArgs) -> ActionPlan:
    namespace = env.namespace(args)
    if not args.set and not args.remove:
        raise errors.InvalidArguments("say which keys to set or remove")
    await require(env, PATCH_CONFIGMAP, namespace, args.name)
    path = f"/api/v1/namespaces/{namespace}/configmaps/{args.name}"
    cm = await env.cluster.call("GET", path, what=f"read configmap {namespace}/{args.name}")
    before = dict(cm.get("data") or {})
    missing = [k for k in args.remove if k not in before]
    if missing:
        raise errors.InvalidArguments(f"configmap {args.name} has no keys {missing}")
    after = {k: v for k, v in {**before, **args.set}.items() if k not in args.remove}
    if after == before:
        raise errors.PlanRefused(f"configmap {args.name} already holds these values.")
    target = target_of("ConfigMap", cm)
    body = {"metadata": {"resourceVersion": target.resource_version},
            "data": {**args.set, **{k: None for k in args.remove}}}
    checked = await dry_run(env, "PATCH", path, body, MERGE_PATCH)
    return ActionPlan(
        tool="update_configmap", args=args.model_dump(), workspace=env.ctx.workspace,
        namespace=namespace, requester=env.ctx.slack_id,
        summary=f"Update configmap {namespace}/{args.name}: "
                + "; ".join(part for part in (
                    "set " + ", ".join(sorted(args.set)) if args.set else "",
                    "remove " + ", ".join(sorted(args.remove)) if args.remove else "") if part)
                + " (pods read it on restart)",
        diff=diff(before, after, f"configmap {args.name} data"), risk=Risk.MEDIUM,
        payload=body, targets=(target,), dry_run=checked,
        facts={"objects": [fact("ConfigMap", cm)]})


async def execute_configmap(env: ToolEnv, plan: ActionPlan) -> ToolResult:
    target = plan.targets[0]
    path = f"/api/v1/namespaces/{target.namespace}/configmaps/{target.name}"
    current = await env.cluster.call("GET", path, what=f"read configmap {target.name}")
    if executed_already(current, plan):
        return ToolResult(f"configmap {target.name} already has this plan's change; nothing "
                          "changed.", {"changed": False})
    if current["metadata"].get("resourceVersion") != target.resource_version:
        raise stale(target, current)
    body = {**plan.payload, "metadata": {**plan.payload["metadata"],
                                         "annotations": {PLAN_ANNOTATION: plan.id}}}
    await env.cluster.call("PATCH", path, body=body, content_type=MERGE_PATCH,
                           what=f"update configmap {target.name}")
    return ToolResult(f"Updated configmap {target.namespace}/{target.name}.", {"changed": True})
