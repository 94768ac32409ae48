"""The one explicit registry of tools.  What an agent may call is derived from it.

Descriptions are prompt copy: one line, unique, saying what the tool does and when to use it.
"""

from __future__ import annotations

import dataclasses

from pydantic import ValidationError

from tools import errors
from tools.analysis import optimize, performance
from tools.analysis import tools as analysis_tools
from tools.args import ToolArgs
from tools.kube.access import Access
from tools.reads import changes as recent
from tools.reads import network, pods, workloads
from tools.spec import ActionPlan, Effect, ToolEnv, ToolResult, ToolSpec
from tools.writes import apply, backup, batch, delete, rollback
from tools.writes import exec as execs
from tools.writes import workloads as changes

READ_PODS = Access("", "pods", "list")
TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec("list_pods", "List pods in a namespace with status, restarts, node and last "
             "termination reason.", Effect.READ, pods.ListPodsArgs, (READ_PODS,),
             run=pods.list_pods),
    ToolSpec("get_deployment_status", "Show one Deployment's replicas, rollout progress, "
             "conditions, images and resources.", Effect.READ, workloads.DeploymentArgs,
             (Access("apps", "deployments", "get"),), run=workloads.get_deployment_status),
    ToolSpec("view_logs", "Read the last lines of a pod's logs (or its previous crashed "
             "container's).", Effect.READ, pods.ViewLogsArgs,
             (Access("", "pods", "get", "log"),), run=pods.view_logs, private=True),
    ToolSpec("get_resource_usage", "Compare pods' live CPU and memory use with their requests "
             "and limits.", Effect.READ, workloads.UsageArgs,
             (Access("metrics.k8s.io", "pods", "list"), READ_PODS),
             run=workloads.get_resource_usage),
    ToolSpec("list_services", "List Services with type, ports, selector and how many ready "
             "endpoints back them.", Effect.READ, network.ServicesArgs,
             (Access("", "services", "list"), Access("", "endpoints", "list")),
             run=network.list_services),
    ToolSpec("get_events", "Show recent events, warnings first, duplicates merged with "
             "counts.", Effect.READ, network.EventsArgs, (Access("", "events", "list"),),
             run=network.get_events, private=True),
    ToolSpec("recent_changes", "Show what changed lately (rollouts, scaling, ConfigMap and "
             "Secret edits, warnings), newest first.", Effect.READ, recent.ChangesArgs,
             (Access("apps", "deployments", "list"), Access("apps", "replicasets", "list"),
              Access("", "events", "list"), Access("", "configmaps", "list")),
             run=recent.recent_changes, private=True),
    ToolSpec("analyze_performance", "Analyse workloads' CPU/memory vs requests and limits, "
             "restarts, HPA bounds; latency and a chart with Prometheus.", Effect.READ,
             performance.PerformanceArgs,
             (READ_PODS, Access("metrics.k8s.io", "pods", "list")),
             run=performance.analyze_performance),
    ToolSpec("suggest_optimizations", "Suggest rightsized requests, replica counts, limits, "
             "probes and PodDisruptionBudgets with monthly cost deltas.", Effect.READ,
             optimize.OptimizeArgs, (READ_PODS, Access("metrics.k8s.io", "pods", "list")),
             run=optimize.suggest_optimizations),
    ToolSpec("troubleshoot_issues", "Find root causes in a namespace (crashes, OOM, probes, "
             "scheduling, services, rollouts, quotas, nodes) with fixes.", Effect.READ,
             analysis_tools.TroubleshootArgs, (READ_PODS,),
             run=analysis_tools.troubleshoot_issues, private=True),
    ToolSpec("generate_backup_strategy", "Design backups for a database StatefulSet: schedule, "
             "retention, compression, encryption, destination.", Effect.READ,
             analysis_tools.StrategyArgs, (Access("apps", "statefulsets", "get"),),
             run=analysis_tools.generate_backup_strategy),
    ToolSpec("scale_deployment", "Propose setting a Deployment's replica count (needs "
             "approval).", Effect.WRITE, changes.ScaleArgs, (changes.SCALE,),
             plan=changes.plan_scale, execute=changes.execute_scale),
    ToolSpec("restart", "Propose a rollout restart of a Deployment, or deleting one pod so it "
             "is recreated (needs approval).", Effect.WRITE, changes.RestartArgs,
             (changes.RESTART_DEPLOYMENT, changes.DELETE_POD), plan=changes.plan_restart,
             execute=changes.execute_restart, access_for=changes.restart_access),
    ToolSpec("rollback_deployment", "Propose rolling a Deployment back to its previous (or a "
             "named) revision (needs approval).", Effect.WRITE, rollback.RollbackArgs,
             (rollback.ROLLBACK,), plan=rollback.plan_rollback,
             execute=rollback.execute_rollback),
    ToolSpec("update_configmap", "Propose setting or removing keys of a ConfigMap (needs "
             "approval).", Effect.WRITE, changes.ConfigMapArgs, (changes.PATCH_CONFIGMAP,),
             plan=changes.plan_configmap, execute=changes.execute_configmap),
    ToolSpec("create_cronjob", "Propose a new CronJob running an image on a cron schedule "
             "(needs approval).", Effect.WRITE, batch.CronJobArgs, (batch.CREATE_CRONJOB,),
             plan=batch.plan_cronjob, execute=batch.execute_create),
    ToolSpec("create_backup_job", "Propose a one-off Job dumping a database StatefulSet into "
             "a PVC (needs approval).", Effect.WRITE, batch.BackupArgs, (batch.CREATE_JOB,),
             plan=batch.plan_backup, execute=batch.execute_create),
    ToolSpec("create_backup_cronjob", "Propose a daily compressed, encrypted database dump "
             "to S3-compatible storage (needs approval).", Effect.WRITE,
             backup.BackupCronJobArgs, (backup.CREATE_CRONJOB,),
             plan=backup.plan_backup_cronjob, execute=batch.execute_create),
    ToolSpec("apply_yaml", "Propose applying allowlisted manifests (no Secrets, RBAC or "
             "privileged pods) (needs approval).", Effect.WRITE, apply.ApplyArgs,
             tuple(Access(group, plural, "patch") for group, plural in apply.ALLOWED.values()),
             plan=apply.plan_apply,
             execute=apply.execute_apply),
    ToolSpec("delete_resource", "Propose deleting one object (Deployment, ConfigMap, Pod, …), "
             "listing what owns and depends on it (needs approval).",
             Effect.WRITE, delete.DeleteArgs, delete.ACCESS, plan=delete.plan_delete,
             execute=delete.execute_delete, access_for=delete.delete_access),
    ToolSpec("exec_command", "Propose running one diagnostic command (argv, no shell) in a "
             "pod's container, e.g. df -h (needs approval).", Effect.WRITE, execs.ExecArgs,
             (execs.EXEC,), plan=execs.plan_exec, execute=execs.execute_exec, private=True),
)
BY_NAME = {spec.name: spec for spec in TOOLS}


def get(name: str) -> ToolSpec:
    spec = BY_NAME.get(name)
    if spec is None:
        raise errors.InvalidArguments(f"no tool named {name!r}; tools: {', '.join(BY_NAME)}")
    return spec


def private_output(tool: str) -> bool:
    """Whether ``tool``'s output is private (see ``ToolSpec.private``); a name that is not a
    tool counts as private (deny by default)."""
    spec = BY_NAME.get(tool)
    return spec is None or spec.private


def private_answer(tool: str) -> bool:
    """Whether an answer that called ``tool`` is private: it read private output.  Calling a
    WRITE tool only proposes — its answer is the plan, which the approval card shows anyway;
    its output (after approval) is judged by :func:`private_output`."""
    spec = BY_NAME.get(tool)
    return spec is None or (spec.private and spec.effect is Effect.READ)


def parse_args(spec: ToolSpec, raw: dict[str, object]) -> ToolArgs:
    """Validate raw arguments; the error names each bad field."""
    try:
        return spec.args.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "arguments"
            message = "unknown argument" if error["type"] == "extra_forbidden" else error["msg"]
            problems.append(f"{field}: {message}")
        raise errors.InvalidArguments(f"{spec.name}: " + "; ".join(problems)) from exc


async def run(spec: ToolSpec, env: ToolEnv, raw: dict[str, object]) -> ToolResult:
    """Run a READ tool.  WRITE tools cannot run: they only plan."""
    if spec.effect is not Effect.READ or spec.run is None:
        raise errors.PlanRefused(f"{spec.name} changes the cluster: it can only be planned "
                                 "and then approved")
    return await spec.run(env, parse_args(spec, raw))


async def plan(spec: ToolSpec, env: ToolEnv, raw: dict[str, object]) -> ActionPlan:
    if spec.effect is not Effect.WRITE or spec.plan is None:
        raise errors.InvalidArguments(f"{spec.name} only reads; run it instead of planning it")
    made = await spec.plan(env, parse_args(spec, raw))
    return dataclasses.replace(made, workspace_id=env.ctx.workspace_id)


async def execute(env: ToolEnv, stored: ActionPlan) -> ToolResult:
    """Execute a stored plan (the confirmations layer calls this after approval)."""
    spec = get(stored.tool)
    assert spec.execute is not None
    return await spec.execute(env, stored)
