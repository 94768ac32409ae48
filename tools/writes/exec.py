"""exec_command: one command in one container, always through a confirmation.

The command is an argv list (no shell: ``df -h`` is ``["df", "-h"]``; pipes and ``;`` are plain
arguments).  Which commands are allowed is the guardrail policy's call: by default a short
allowlist of read-only diagnostics (``confirmations.guard.DEFAULT_COMMANDS``), anything else
only where a rule allows it.  The plan pins the pod's uid, so an approval cannot run in a
replacement pod.  Output is bounded, credential-shaped text is redacted (``env`` shows
secrets), and the stream is closed after a timeout (the API server then ends the session).
"""

from __future__ import annotations

import asyncio
import shlex

from pydantic import Field, field_validator

from tools import errors
from tools.args import Name, ToolArgs
from tools.kube import exec as kube_exec
from tools.kube.access import Access
from tools.redact import redact
from tools.spec import ActionPlan, Risk, ToolEnv, ToolResult
from tools.text import bound
from tools.writes.common import fact, owner_facts, require, target_of

EXEC = Access("", "pods", "create", "exec")
TIMEOUT_SECONDS = 20.0
MAX_OUTPUT = 64 * 1024


class ExecArgs(ToolArgs):
    pod: Name
    container: Name | None = Field(default=None, description="default: the pod's first")
    command: list[str] = Field(min_length=1, max_length=16,
                               description="argv, e.g. [\"df\", \"-h\"]; no shell")

    @field_validator("command", mode="before")
    @classmethod
    def _argv(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return shlex.split(value)
            except ValueError as exc:
                raise ValueError(f"cannot split the command: {exc}") from None
        return value

    @field_validator("command")
    @classmethod
    def _parts(cls, value: list[str]) -> list[str]:
        for part in value:
            if not part or len(part) > 256 or any(ord(c) < 32 for c in part):
                raise ValueError(f"{part!r}: each argument must be 1-256 printable characters")
        return value


def _pod_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods/{name}"


async def plan_exec(env: ToolEnv, args: ExecArgs) -> ActionPlan:
    namespace = env.namespace(args)
    await require(env, EXEC, namespace, args.pod)
    pod = await env.cluster.call("GET", _pod_path(namespace, args.pod),
                                 what=f"read pod {namespace}/{args.pod}")
    containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    container = args.container or (containers[0] if containers else "")
    if container not in containers:
        raise errors.InvalidArguments(f"pod {args.pod} has no container {container!r} "
                                      f"(containers: {', '.join(map(str, containers))})")
    phase = (pod.get("status") or {}).get("phase")
    if phase != "Running":
        raise errors.PlanRefused(f"pod {namespace}/{args.pod} is {phase or 'not running'}; "
                                 "commands run only in running pods")
    line = shlex.join(args.command)
    return ActionPlan(
        tool="exec_command", args=args.model_dump(), workspace=env.ctx.workspace,
        namespace=namespace, requester=env.ctx.slack_id,
        summary=f"Run `{line}` in pod {namespace}/{args.pod} (container {container})",
        diff=f"$ {line}\n(no shell; output cut at {env.limit} bytes and redacted; the stream "
             f"is closed after {TIMEOUT_SECONDS:.0f} s)",
        risk=Risk.MEDIUM, payload={"container": container, "command": args.command},
        targets=(target_of("Pod", pod),), dry_run="not run (exec has no dry run)",
        facts={"objects": [fact("Pod", pod, container=container, command=args.command),
                           *await owner_facts(env, pod)]})


async def execute_exec(env: ToolEnv, plan: ActionPlan) -> ToolResult:
    target = plan.targets[0]
    try:
        pod = await env.cluster.call("GET", _pod_path(target.namespace, target.name),
                                     what=f"read pod {target.name}")
    except errors.NotFound as exc:
        raise errors.Conflict(f"pod {target.namespace}/{target.name} is gone since the plan; "
                              "nothing was run.", status=409, reason="Conflict") from exc
    if pod["metadata"].get("uid") != target.uid:
        raise errors.Conflict(f"pod {target.namespace}/{target.name} was replaced since the "
                              "plan (another uid); nothing was run — make a new plan.",
                              status=409, reason="Conflict")
    argv, container = plan.payload["command"], plan.payload["container"]
    result = await asyncio.to_thread(kube_exec.run, env.cluster, target.namespace, target.name,
                                     container, argv, MAX_OUTPUT, TIMEOUT_SECONDS)
    parts = [f"$ {shlex.join(argv)}  (pod {target.name}, container {container})"]
    if result.stdout:
        parts.append(result.stdout.rstrip("\n"))
    if result.stderr:
        parts.append("[stderr]\n" + result.stderr.rstrip("\n"))
    if result.timed_out:
        parts.append(f"[no end after {TIMEOUT_SECONDS:.0f} s: stream closed, output so far]")
    elif result.exit_code not in (0, None):
        parts.append(f"[exit code {result.exit_code}]")
    elif result.message:
        parts.append(f"[failed: {result.message}]")
    text, cut = bound(redact("\n".join(parts)), env.limit)
    return ToolResult(text, {"changed": False, "exit_code": result.exit_code,
                             "timed_out": result.timed_out},
                      truncated=cut or result.truncated)
