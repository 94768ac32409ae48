"""create_cronjob and create_backup_job: new objects, created exactly once per plan.

The manifest is fixed in the plan (with the plan id as an annotation) and validated by a
server-side dry run.  Execution creates it; if it already exists and carries this plan's id, the
replay changes nothing; if something else holds the name, that is a conflict.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from tools import errors
from tools.args import Name, ToolArgs
from tools.kube.access import Access
from tools.spec import PLAN_ANNOTATION, ActionPlan, Risk, ToolEnv, ToolResult
from tools.writes.common import diff, dry_run, executed_already, fact, lacking, require

CREATE_CRONJOB = Access("batch", "cronjobs", "create")
CREATE_JOB = Access("batch", "jobs", "create")
CRON_FIELD = r"(\*|[0-9,\-*/]+|[A-Za-z]{3}(-[A-Za-z]{3})?)"
CRON = re.compile(rf"^{CRON_FIELD}( {CRON_FIELD}){{4}}$")
BACKUP_COMMANDS = {
    "postgres": 'pg_dump -h "$DB_HOST" -U "$DB_USER" -Fc -f "/backup/$BACKUP_FILE.dump"',
    "mysql": 'mysqldump -h "$DB_HOST" -u "$DB_USER" --all-databases > "/backup/$BACKUP_FILE.sql"',
}


class CronJobArgs(ToolArgs):
    name: Name = Field(max_length=52)
    schedule: str = Field(description="five-field cron, e.g. '0 2 * * *'")
    image: str = Field(min_length=1, max_length=512, pattern=r"^[^\s]+$")
    args: list[str] = Field(default_factory=list, max_length=20,
                            description="container arguments")
    suspend: bool = False
    concurrency_policy: Literal["Allow", "Forbid", "Replace"] = "Forbid"

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not (CRON.match(value.strip()) or value.strip() in (
                "@hourly", "@daily", "@weekly", "@monthly", "@yearly")):
            raise ValueError(f"{value!r} is not a five-field cron schedule")
        return value.strip()


async def _create_plan(env: ToolEnv, tool: str, args: ToolArgs, namespace: str, access: Access,
                       path: str, manifest: dict[str, Any], summary: str) -> ActionPlan:
    await require(env, access, namespace)
    name = manifest["metadata"]["name"]
    try:
        await env.cluster.call("GET", f"{path}/{name}", what=f"look for {name}")
    except errors.NotFound:
        pass
    else:
        raise errors.PlanRefused(f"{manifest['kind']} {namespace}/{name} already exists; "
                                 "pick another name.")
    checked = await dry_run(env, "POST", path, manifest)
    return ActionPlan(tool=tool, args=args.model_dump(), workspace=env.ctx.workspace,
                      namespace=namespace, requester=env.ctx.slack_id, summary=summary,
                      diff=diff(None, manifest, f"{manifest['kind']} {name}"), risk=Risk.LOW,
                      payload={"path": path, "manifest": manifest}, dry_run=checked,
                      facts={"objects": [fact(manifest["kind"], manifest,
                                              lacking=lacking(manifest))]})


def _stamp(manifest: dict[str, Any], plan_id: str) -> dict[str, Any]:
    meta = manifest["metadata"]
    return {**manifest, "metadata": {**meta, "annotations": {**(meta.get("annotations") or {}),
                                                              PLAN_ANNOTATION: plan_id}}}


async def execute_create(env: ToolEnv, plan: ActionPlan) -> ToolResult:
    path, manifest = plan.payload["path"], plan.payload["manifest"]
    name, kind = manifest["metadata"]["name"], manifest["kind"]
    try:
        await env.cluster.call("POST", path, body=_stamp(manifest, plan.id),
                               content_type="application/json", what=f"create {kind} {name}")
    except errors.Conflict as exc:
        existing = await env.cluster.call("GET", f"{path}/{name}", what=f"read {name}")
        if executed_already(existing, plan):
            return ToolResult(f"{kind} {plan.namespace}/{name} was already created by this "
                              "plan; nothing changed.", {"changed": False})
        raise errors.Conflict(f"{kind} {plan.namespace}/{name} was created by someone else "
                              "since the plan; nothing was applied.", status=409) from exc
    return ToolResult(f"Created {kind} {plan.namespace}/{name}.", {"changed": True})


async def plan_cronjob(env: ToolEnv, args: CronJobArgs) -> ActionPlan:
    namespace = env.namespace(args)
    container: dict[str, Any] = {"name": args.name, "image": args.image}
    if args.args:
        container["args"] = args.args
    manifest = {
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": args.name, "namespace": namespace,
                     "labels": {"app.kubernetes.io/managed-by": "hexabot"}},
        "spec": {"schedule": args.schedule, "suspend": args.suspend,
                 "concurrencyPolicy": args.concurrency_policy,
                 "jobTemplate": {"spec": {"template": {"spec": {
                     "restartPolicy": "OnFailure", "containers": [container]}}}}},
    }
    return await _create_plan(env, "create_cronjob", args, namespace, CREATE_CRONJOB,
                              f"/apis/batch/v1/namespaces/{namespace}/cronjobs", manifest,
                              f"Create CronJob {namespace}/{args.name} running {args.image} "
                              f"on schedule '{args.schedule}'")


class BackupArgs(ToolArgs):
    database: Name = Field(description="the StatefulSet of the database")
    engine: Literal["postgres", "mysql"] = "postgres"
    destination_pvc: Name = Field(description="PVC the dump is written to")
    db_user: str = Field(default="postgres", pattern=r"^[A-Za-z0-9_.-]{1,63}$")
    password_secret: Name | None = None
    password_key: str = Field(default="password", pattern=r"^[-._a-zA-Z0-9]{1,253}$")


async def plan_backup(env: ToolEnv, args: BackupArgs) -> ActionPlan:
    namespace = env.namespace(args)
    sts = await env.cluster.call("GET", f"/apis/apps/v1/namespaces/{namespace}/statefulsets/"
                                 f"{args.database}", what=f"read statefulset {args.database}")
    await env.cluster.call("GET", f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/"
                           f"{args.destination_pvc}", what=f"read PVC {args.destination_pvc}")
    containers = ((sts.get("spec") or {}).get("template") or {}).get("spec", {}).get(
        "containers") or [{}]
    image = containers[0].get("image") or ("postgres:16" if args.engine == "postgres"
                                           else "mysql:8")
    service = (sts.get("spec") or {}).get("serviceName") or args.database
    env_vars: list[dict[str, Any]] = [
        {"name": "DB_HOST", "value": f"{service}.{namespace}.svc"},
        {"name": "DB_USER", "value": args.db_user},
        {"name": "BACKUP_FILE", "value": f"{args.database}-manual"}]
    if args.password_secret:
        variable = "PGPASSWORD" if args.engine == "postgres" else "MYSQL_PWD"
        env_vars.append({"name": variable, "valueFrom": {"secretKeyRef": {
            "name": args.password_secret, "key": args.password_key}}})
    name = f"backup-{args.database}"[:52]
    manifest = {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": f"{name}-{env.ctx.request_id[:6]}", "namespace": namespace,
                     "labels": {"app.kubernetes.io/managed-by": "hexabot",
                                "hexabot.io/backup-of": args.database}},
        "spec": {"backoffLimit": 2, "ttlSecondsAfterFinished": 7 * 86400,
                 "template": {"spec": {
                     "restartPolicy": "Never",
                     "containers": [{"name": "backup", "image": image,
                                     "command": ["sh", "-c", BACKUP_COMMANDS[args.engine]],
                                     "env": env_vars,
                                     "volumeMounts": [{"name": "backup",
                                                       "mountPath": "/backup"}]}],
                     "volumes": [{"name": "backup", "persistentVolumeClaim": {
                         "claimName": args.destination_pvc}}]}}},
    }
    return await _create_plan(env, "create_backup_job", args, namespace, CREATE_JOB,
                              f"/apis/batch/v1/namespaces/{namespace}/jobs", manifest,
                              f"Run a one-off {args.engine} backup of {namespace}/"
                              f"{args.database} into PVC {args.destination_pvc} "
                              f"(image {image})")
