"""GenerateBackupStrategy and create_backup_cronjob: scheduled, compressed, encrypted database
dumps to S3-compatible storage, as a plan that needs approval.

Detection reads the StatefulSet (image, ports, env) and its PVCs (size, storage class).  The
CronJob dumps with the database's own image (so the client matches the server), compresses,
uploads with server-side encryption to the bucket, and prunes objects older than the retention;
credentials come only from Secret references — nothing secret is ever inlined.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from tools import errors, quantity
from tools.args import Name, ToolArgs
from tools.kube.access import Access
from tools.spec import ActionPlan, ToolEnv
from tools.writes.batch import CRON, _create_plan

ENGINES = {  # image hint -> (engine, default port, dump command writing to $FILE)
    "postgres": ("postgres", 5432, 'pg_dump -h "$DB_HOST" -U "$DB_USER" -Fc > "$FILE"'),
    "mysql": ("mysql", 3306, 'mysqldump -h "$DB_HOST" -u "$DB_USER" --single-transaction '
                             '--all-databases > "$FILE"'),
    "mariadb": ("mysql", 3306, 'mysqldump -h "$DB_HOST" -u "$DB_USER" --single-transaction '
                               '--all-databases > "$FILE"'),
    "mongo": ("mongodb", 27017, 'mongodump --host "$DB_HOST" --archive="$FILE"'),
    "redis": ("redis", 6379, 'redis-cli -h "$DB_HOST" --rdb "$FILE"'),
}
INCREMENTAL = {  # why the plan is full dumps, and what incremental backups would take
    "postgres": "incremental backups need WAL archiving (pgBackRest or WAL-G), which this "
                "CronJob does not set up.",
    "mysql": "incremental backups need binlog shipping (e.g. Percona XtraBackup), which this "
             "CronJob does not set up.",
    "mongodb": "incremental backups need oplog capture, which this CronJob does not set up.",
    "redis": "an RDB snapshot is always a full copy.",
}
PORTS = {5432: "postgres", 3306: "mysql", 27017: "mongo", 6379: "redis"}
CREATE_CRONJOB = Access("batch", "cronjobs", "create")


@dataclass(frozen=True)
class Strategy:
    database: str
    namespace: str
    engine: str
    image: str
    service: str
    storage: str          # e.g. 50Gi
    storage_class: str
    schedule: str
    retention_days: int
    kind: str             # full dumps (logical), daily

    def text(self) -> str:
        return (f"{self.database} is a {self.engine} database ({self.image}) on "
                f"{self.storage or 'unknown size'} of {self.storage_class or 'default'} storage. "
                f"Plan: a {self.kind} every day at {self.schedule} (off-peak), compressed, "
                f"uploaded with server-side encryption to S3-compatible storage, kept "
                f"{self.retention_days} days; credentials from a Secret reference only. "
                f"Full rather than incremental: {INCREMENTAL.get(self.engine, '')}")


def detect(sts: dict[str, Any]) -> tuple[str, str, str] | None:
    """(engine key, image, dump command) of the database a StatefulSet runs, or None."""
    for container in ((sts.get("spec") or {}).get("template") or {}).get("spec", {}).get(
            "containers") or []:
        image = str(container.get("image", ""))
        for hint, (_, _, command) in ENGINES.items():
            if hint in image.lower():
                return hint, image, command
        for port in container.get("ports") or []:
            by_port = PORTS.get(int(port.get("containerPort", 0)))
            if by_port:
                return by_port, image, ENGINES[by_port][2]
        names = {e.get("name", "") for e in container.get("env") or []}
        if names & {"POSTGRES_PASSWORD", "PGDATA"}:
            return "postgres", image, ENGINES["postgres"][2]
        if names & {"MYSQL_ROOT_PASSWORD", "MARIADB_ROOT_PASSWORD"}:
            return "mysql", image, ENGINES["mysql"][2]
    return None


async def strategy(env: ToolEnv, namespace: str, database: str) -> tuple[Strategy, str]:
    sts = await env.cluster.call("GET", f"/apis/apps/v1/namespaces/{namespace}/statefulsets/"
                                 f"{database}", what=f"read statefulset {database}")
    pvcs = (await env.cluster.call("GET", f"/api/v1/namespaces/{namespace}/"
                                   "persistentvolumeclaims", what="list PVCs")).get("items", [])
    found = detect(sts)
    if found is None:
        raise errors.InvalidArguments(f"{database} does not look like a database I can back "
                                      "up (postgres, mysql/mariadb, mongodb, redis)")
    hint, image, command = found
    mine = [p for p in pvcs if p["metadata"]["name"].endswith(f"-{database}-0")]
    size = ((mine[0].get("spec") or {}).get("resources") or {}).get("requests", {}).get(
        "storage", "") if mine else ""
    storage_class = (mine[0].get("spec") or {}).get("storageClassName", "") if mine else ""
    big = (quantity.parse(size) or 0) >= 100 * 2**30
    return Strategy(database=database, namespace=namespace, engine=ENGINES[hint][0],
                    image=image, service=(sts.get("spec") or {}).get("serviceName") or database,
                    storage=size, storage_class=storage_class, schedule="30 2 * * *",
                    retention_days=7 if big else 14, kind="full logical dump"), command


class BackupCronJobArgs(ToolArgs):
    database: Name = Field(description="StatefulSet running the database")
    schedule: str | None = Field(default=None, description="cron; default off-peak 02:30")
    retention_days: int | None = Field(default=None, ge=1, le=365)
    s3_endpoint: str = Field(default="https://s3.amazonaws.com",
                             pattern=r"^https?://[A-Za-z0-9.:-]+/?$")
    bucket: Name = "hexabot-backups"
    credentials_secret: Name = Field(default="backup-s3-credentials",
                                     description="Secret with AWS_ACCESS_KEY_ID and "
                                                 "AWS_SECRET_ACCESS_KEY (a reference only)")
    password_secret: Name | None = Field(default=None,
                                         description="Secret with the database password")
    db_user: str = Field(default="postgres", pattern=r"^[A-Za-z0-9_.-]{1,63}$")
    uploader_image: Literal["amazon/aws-cli:2.17.0"] = "amazon/aws-cli:2.17.0"


async def plan_backup_cronjob(env: ToolEnv, args: BackupCronJobArgs) -> ActionPlan:
    namespace = env.namespace(args)
    found, dump = await strategy(env, namespace, args.database)
    schedule = (args.schedule or found.schedule).strip()
    if not CRON.match(schedule):
        raise errors.InvalidArguments(f"{schedule!r} is not a five-field cron schedule")
    retention = args.retention_days or found.retention_days
    prefix = f"{namespace}/{args.database}"
    db_env: list[dict[str, Any]] = [
        {"name": "DB_HOST", "value": f"{found.service}.{namespace}.svc"},
        {"name": "DB_USER", "value": args.db_user},
        {"name": "FILE", "value": "/backup/dump"}]
    if args.password_secret:
        variable = {"postgres": "PGPASSWORD", "mysql": "MYSQL_PWD"}.get(found.engine,
                                                                          "DB_PASSWORD")
        db_env.append({"name": variable, "valueFrom": {"secretKeyRef": {
            "name": args.password_secret, "key": "password"}}})
    s3_env = [{"name": key, "valueFrom": {"secretKeyRef": {"name": args.credentials_secret,
                                                           "key": key}}}
              for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")]
    upload = (f'set -eu; stamp=$(date -u +%Y%m%dT%H%M%SZ); gzip -9 /backup/dump; '
              f'aws --endpoint-url "{args.s3_endpoint}" s3 cp /backup/dump.gz '
              f'"s3://{args.bucket}/{prefix}/$stamp.gz" --sse AES256; '
              f'cutoff=$(date -u -d "-{retention} days" +%Y%m%d); '
              f'aws --endpoint-url "{args.s3_endpoint}" s3 ls "s3://{args.bucket}/{prefix}/" '
              f'| while read -r _ _ _ key; do [ "${{key%%T*}}" -lt "$cutoff" ] && '
              f'aws --endpoint-url "{args.s3_endpoint}" s3 rm "s3://{args.bucket}/{prefix}/$key";'
              ' done; true')
    resources = {"requests": {"cpu": "100m", "memory": "256Mi"},
                 "limits": {"cpu": "1", "memory": "1Gi"}}
    pod_spec = {
        "restartPolicy": "OnFailure",
        "volumes": [{"name": "backup", "emptyDir": {}}],
        "initContainers": [{"name": "dump", "image": found.image, "env": db_env,
                            "command": ["sh", "-c", f"set -eu; {dump}"],
                            "volumeMounts": [{"name": "backup", "mountPath": "/backup"}],
                            "resources": resources}],
        "containers": [{"name": "upload", "image": args.uploader_image, "env": s3_env,
                        "command": ["sh", "-c", upload],
                        "volumeMounts": [{"name": "backup", "mountPath": "/backup"}],
                        "resources": resources}],
    }
    name = f"backup-{args.database}"[:52]
    manifest = {
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {"app.kubernetes.io/managed-by": "hexabot",
                                "hexabot.io/backup-of": args.database}},
        "spec": {"schedule": schedule, "concurrencyPolicy": "Forbid",
                 "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 3,
                 "startingDeadlineSeconds": 3600,
                 "jobTemplate": {"spec": {"backoffLimit": 2, "template": {"spec": pod_spec}}}},
    }
    summary = (f"Create CronJob {namespace}/{name}: {found.engine} dump of {args.database} "
               f"({found.storage} {found.storage_class}) at '{schedule}', gzip, SSE upload to "
               f"s3://{args.bucket}/{prefix}/, keep {retention} days (needs Secret "
               f"{args.credentials_secret})")
    return await _create_plan(env, "create_backup_cronjob", args, namespace, CREATE_CRONJOB,
                              f"/apis/batch/v1/namespaces/{namespace}/cronjobs", manifest,
                              summary)
