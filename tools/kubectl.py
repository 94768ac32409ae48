"""How to do it yourself: the ``kubectl`` command lines behind a tool call.

Shown next to an answer or an approval card so people learn Kubernetes from the bot, and can
still look and act when the bot is down.  :func:`for_read` gives the commands that show what a
READ tool reads; :func:`for_plan` the commands that make exactly the change approving a plan
makes (from the plan's payload, which is what ``execute`` applies).

Pure: nothing here reaches a cluster.  Every word is shell-quoted (``shlex.join``), so a label
selector, container or exec argument with ``;``, ``$(…)``, quotes or newlines stays one argument
of one kubectl command; a manifest goes in a quoted here-document (``<<'EOF'``: nothing in it is
expanded).  A positional name that is not a Kubernetes name (it could start with ``-`` and be
read as a flag) or a payload of a shape not understood gives ``[]``, never a guess.

What kubectl cannot say is left to the reader of its output: the time windows
(``since_minutes``), Hexabot's ordering (warnings first, hottest first), its row limits, the
Prometheus history, and "around this workload" (a field selector names one object exactly, not
the ReplicaSets and pods named after it).  Preconditions Hexabot checks at execution (uid,
resourceVersion) are not in the lines: they would refuse the command as soon as the object's
status moved on.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Mapping
from typing import Any

from tools.analysis.optimize import OptimizeArgs
from tools.analysis.performance import PerformanceArgs
from tools.analysis.tools import StrategyArgs, TroubleshootArgs
from tools.args import DNS1123_LABEL, DNS1123_SUBDOMAIN, ToolArgs
from tools.reads.changes import ChangesArgs
from tools.reads.network import EventsArgs, ServicesArgs
from tools.reads.pods import ListPodsArgs, ViewLogsArgs
from tools.reads.workloads import DeploymentArgs, UsageArgs
from tools.spec import ActionPlan
from tools.writes import delete
from tools.writes.common import FIELD_MANAGER, dump_all

Args = Mapping[str, Any]
Argv = list[str]
RESOURCES = ("custom-columns=POD:.metadata.name,CONTAINER:.spec.containers[*].name,"
             "CPU_REQUEST:.spec.containers[*].resources.requests.cpu,"
             "CPU_LIMIT:.spec.containers[*].resources.limits.cpu,"
             "MEMORY_REQUEST:.spec.containers[*].resources.requests.memory,"
             "MEMORY_LIMIT:.spec.containers[*].resources.limits.memory")
REVISIONS = (r"custom-columns=NAME:.metadata.name,"
             r"REVISION:.metadata.annotations.deployment\.kubernetes\.io/revision,"
             r"CREATED:.metadata.creationTimestamp,REPLICAS:.spec.replicas,"
             r"IMAGES:.spec.template.spec.containers[*].image")
CHANGED = ("custom-columns=NAME:.metadata.name,CHANGED:.metadata.managedFields[*].time,"
           "BY:.metadata.managedFields[*].manager")
TRUE = frozenset({"true", "1", "yes", "on"})


class Unusable(ValueError):
    """The call or payload is not one this module understands: no lines, rather than a guess."""


def _line(argv: Argv) -> str:
    return shlex.join(["kubectl", *argv])


def _name(value: Any) -> str:
    """A Kubernetes object name (never read as a flag), else :class:`Unusable`."""
    if not isinstance(value, str) or len(value) > 253 \
            or not re.fullmatch(DNS1123_SUBDOMAIN, value):
        raise Unusable(f"not a Kubernetes name: {value!r}")
    return value


def _namespace(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 63 or not re.fullmatch(DNS1123_LABEL, value):
        raise Unusable(f"not a namespace: {value!r}")
    return value


def _value(args: Args, model: type[ToolArgs], field: str) -> Any:
    """``args[field]``, or the tool's own default for it (so the lines read what it reads)."""
    value = args.get(field)
    return model.model_fields[field].default if value is None else value


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise Unusable(f"not a count: {value!r}")
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise Unusable(f"not a count: {value!r}")


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in TRUE)


def _text(value: Any) -> str | None:
    """An optional free value (selector, container): kept as given, quoting makes it safe."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Unusable(f"not text: {value!r}")
    return value


def _only(name: str | None) -> Argv:
    return ["--field-selector", f"metadata.name={name}"] if name else []


def _events(ns: str, about: str | None = None, warnings: bool = False) -> Argv:
    fields = (["type=Warning"] if warnings else []) + (
        [f"involvedObject.name={about}"] if about else [])
    return ["get", "events", "-n", ns, *(["--field-selector", ",".join(fields)] if fields
                                         else []), "--sort-by=.lastTimestamp"]


def _list_pods(args: Args, ns: str) -> list[Argv]:
    selector = _text(args.get("label_selector"))
    return [["get", "pods", "-n", ns, *(["-l", selector] if selector else []), "-o", "wide"]]


def _deployment_status(args: Args, ns: str) -> list[Argv]:
    name = _name(args.get("name"))
    return [["get", "deployment", name, "-n", ns],
            ["rollout", "status", f"deployment/{name}", "-n", ns, "--watch=false"],
            ["describe", "deployment", name, "-n", ns]]


def _view_logs(args: Args, ns: str) -> list[Argv]:
    argv = ["logs", _name(args.get("pod")), "-n", ns]
    container = _text(args.get("container"))
    argv += ["-c", container] if container else []
    argv.append(f"--tail={_int(_value(args, ViewLogsArgs, 'tail_lines'))}")
    argv += ["--previous"] if _flag(args.get("previous")) else []
    since = args.get("since_seconds")
    argv += [f"--since={_int(since)}s"] if since is not None else []
    return [argv]


def _resource_usage(args: Args, ns: str) -> list[Argv]:
    pod = _name(args["pod"]) if args.get("pod") else None
    selector = _text(args.get("label_selector"))
    # kubectl takes a NAME or -l; with both, both filters (as the tool applies them)
    which = [pod] if pod and not selector else [
        *(["-l", selector] if selector else []), *_only(pod)]
    return [["top", "pods", "-n", ns, *which, "--containers"],
            ["get", "pods", "-n", ns, *which, "-o", RESOURCES]]


def _services(args: Args, ns: str) -> list[Argv]:
    return [["get", "services,endpoints", "-n", ns, "-o", "wide"]]


def _get_events(args: Args, ns: str) -> list[Argv]:
    about = _name(args["object_name"]) if args.get("object_name") else None
    return [_events(ns, about), _events(ns, about, warnings=True)]


def _recent_changes(args: Args, ns: str) -> list[Argv]:
    about = _name(args["name"]) if args.get("name") else None
    return [["get", "replicasets", "-n", ns, "--sort-by=.metadata.creationTimestamp", "-o",
             REVISIONS],
            _events(ns, about),
            ["get", "horizontalpodautoscalers", "-n", ns],
            ["get", "configmaps", "-n", ns, "-o", CHANGED],
            ["get", "secrets", "-n", ns, "-o", CHANGED]]  # metadata columns only, no values


def _usage(args: Args, ns: str) -> list[Argv]:
    """What analyze_performance and suggest_optimizations read (tools.analysis.usage)."""
    about = _name(args["name"]) if args.get("name") else None
    return [["get", "deployments,statefulsets", "-n", ns, *_only(about), "-o", "wide"],
            ["get", "pods", "-n", ns, "-o", "wide"],
            ["top", "pods", "-n", ns, "--containers"],
            ["get", "pods", "-n", ns, "-o", RESOURCES],
            ["get", "horizontalpodautoscalers,poddisruptionbudgets", "-n", ns]]


def _troubleshoot(args: Args, ns: str) -> list[Argv]:
    about = _name(args["name"]) if args.get("name") else None
    return [["get", "pods", "-n", ns, "-o", "wide"],
            _events(ns, warnings=True),
            ["get", "deployments,statefulsets,daemonsets,jobs,cronjobs,horizontalpodautoscalers",
             "-n", ns, *_only(about)],
            ["get", "services,endpoints,ingresses,persistentvolumeclaims,resourcequotas", "-n",
             ns],
            ["get", "nodes"]]


def _backup_strategy(args: Args, ns: str) -> list[Argv]:
    return [["get", "statefulset", _name(args.get("database")), "-n", ns, "-o", "yaml"],
            ["get", "persistentvolumeclaims", "-n", ns]]


# tool -> (its argument model, the kubectl reads); a test keeps this in step with the registry.
READS: dict[str, tuple[type[ToolArgs], Callable[[Args, str], list[Argv]]]] = {
    "list_pods": (ListPodsArgs, _list_pods),
    "get_deployment_status": (DeploymentArgs, _deployment_status),
    "view_logs": (ViewLogsArgs, _view_logs),
    "get_resource_usage": (UsageArgs, _resource_usage),
    "list_services": (ServicesArgs, _services),
    "get_events": (EventsArgs, _get_events),
    "recent_changes": (ChangesArgs, _recent_changes),
    "analyze_performance": (PerformanceArgs, _usage),
    "suggest_optimizations": (OptimizeArgs, _usage),
    "troubleshoot_issues": (TroubleshootArgs, _troubleshoot),
    "generate_backup_strategy": (StrategyArgs, _backup_strategy),
}


def for_read(tool: str, args: dict[str, Any], namespace: str) -> list[str]:
    """The kubectl commands that show what READ ``tool`` reads with ``args``, in ``namespace``
    unless ``args`` names another; ``[]`` for any other tool or arguments it would refuse."""
    entry = READS.get(tool)
    if entry is None:
        return []
    model, build = entry
    unknown = set(args) - set(model.model_fields)
    try:
        if unknown:
            raise Unusable(f"{tool} takes no {', '.join(sorted(unknown))}")
        return [_line(argv) for argv in build(args, _namespace(args.get("namespace")
                                                                 or namespace))]
    except Unusable:
        return []


def _mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Unusable(f"not a mapping: {value!r}")
    return value


def _target(plan: ActionPlan, kind: str) -> tuple[str, str]:
    """(name, namespace) of the plan's one target of ``kind``."""
    if len(plan.targets) != 1 or plan.targets[0].kind != kind:
        raise Unusable(f"{plan.tool}: expected one {kind} target")
    target = plan.targets[0]
    return _name(target.name), _namespace(target.namespace or plan.namespace)


def _heredoc(head: Argv, manifests: list[dict[str, Any]]) -> str:
    """``kubectl … -f - <<'EOF'``, the manifests as YAML, then ``EOF``.  Every line of a
    mapping's YAML starts with a key or is indented, so none ends the here-document early; the
    check only keeps it that way."""
    text = dump_all(manifests)
    if "EOF" in text.splitlines():
        raise Unusable("a line of the manifests would end the here-document")
    return f"{_line(head)} <<'EOF'\n{text}EOF"


def _manifest(value: Any, namespace: str) -> dict[str, Any]:
    manifest = _mapping(value)
    meta = _mapping(manifest.get("metadata"))
    _name(meta.get("name"))
    if not isinstance(manifest.get("kind"), str) or not isinstance(
            manifest.get("apiVersion"), str) or meta.get("namespace", namespace) != namespace:
        raise Unusable("not a manifest of the plan's namespace")
    return manifest


def _scale(plan: ActionPlan) -> list[str]:
    name, ns = _target(plan, "Deployment")
    replicas = _int(_mapping(_mapping(plan.payload).get("spec")).get("replicas"))
    return [_line(["scale", f"deployment/{name}", "-n", ns, f"--replicas={replicas}"])]


def _restart(plan: ActionPlan) -> list[str]:
    if plan.payload == {"delete": "pod"}:
        name, ns = _target(plan, "Pod")
        return [_line(["delete", "pod", name, "-n", ns])]
    name, ns = _target(plan, "Deployment")
    annotations = _mapping(_mapping(_mapping(_mapping(plan.payload.get("spec")).get(
        "template")).get("metadata")).get("annotations"))
    if "kubectl.kubernetes.io/restartedAt" not in annotations:
        raise Unusable("restart: not a rollout restart")
    return [_line(["rollout", "restart", f"deployment/{name}", "-n", ns])]


def _rollback(plan: ActionPlan) -> list[str]:
    name, ns = _target(plan, "Deployment")
    revision = _int(_mapping(plan.payload).get("revision"))
    return [_line(["rollout", "undo", f"deployment/{name}", "-n", ns,
                   f"--to-revision={revision}"])]


def _configmap(plan: ActionPlan) -> list[str]:
    name, ns = _target(plan, "ConfigMap")
    data = _mapping(_mapping(plan.payload).get("data"))
    if not data or not all(isinstance(k, str) and (v is None or isinstance(v, str))
                            for k, v in data.items()):
        raise Unusable("update_configmap: data must map keys to text or null")
    patch = json.dumps({"data": data}, sort_keys=True, separators=(",", ":"))
    return [_line(["patch", "configmap", name, "-n", ns, "--type=merge", "-p", patch])]


def _create(plan: ActionPlan) -> list[str]:
    ns = _namespace(plan.namespace)
    manifest = _manifest(_mapping(plan.payload).get("manifest"), ns)
    return [_heredoc(["apply", "-n", ns, "-f", "-"], [manifest])]


def _apply(plan: ActionPlan) -> list[str]:
    ns = _namespace(plan.namespace)
    objects = _mapping(plan.payload).get("objects")
    if not isinstance(objects, list) or not objects:
        raise Unusable("apply_yaml: no objects")
    manifests = [_manifest(_mapping(obj).get("manifest"), ns) for obj in objects]
    return [_heredoc(["apply", "--server-side", f"--field-manager={FIELD_MANAGER}",
                      "--force-conflicts", "-n", ns, "-f", "-"], manifests)]


def _delete(plan: ActionPlan) -> list[str]:
    if len(plan.targets) != 1:
        raise Unusable("delete_resource: expected one target")
    kind = next((arg for arg, (known, _, _) in delete.KINDS.items()
                 if known == plan.targets[0].kind), None)
    if kind is None:
        raise Unusable(f"delete_resource: kind {plan.targets[0].kind!r} is not deletable")
    name, ns = _target(plan, plan.targets[0].kind)
    _, prefix, plural = delete.KINDS[kind]
    if _mapping(plan.payload).get("path") != f"{prefix}/namespaces/{ns}/{plural}/{name}":
        raise Unusable("delete_resource: the payload deletes another object")
    return [_line(["delete", kind, name, "-n", ns])]


def _exec(plan: ActionPlan) -> list[str]:
    name, ns = _target(plan, "Pod")
    payload = _mapping(plan.payload)
    container, command = payload.get("container"), payload.get("command")
    if not isinstance(container, str) or not container or not isinstance(command, list) \
            or not command or not all(isinstance(part, str) for part in command):
        raise Unusable("exec_command: needs a container and an argv")
    return [_line(["exec", name, "-n", ns, "-c", container, "--", *command])]


PLANS: dict[str, Callable[[ActionPlan], list[str]]] = {
    "scale_deployment": _scale,
    "restart": _restart,
    "rollback_deployment": _rollback,
    "update_configmap": _configmap,
    "create_cronjob": _create,
    "create_backup_job": _create,
    "create_backup_cronjob": _create,
    "apply_yaml": _apply,
    "delete_resource": _delete,
    "exec_command": _exec,
}


def for_plan(plan: ActionPlan) -> list[str]:
    """The kubectl commands that make the change approving ``plan`` makes (a manifest as a
    here-document: one multi-line entry); ``[]`` for a tool or payload shape not known."""
    build = PLANS.get(plan.tool)
    if build is None:
        return []
    try:
        return build(plan)
    except Unusable:
        return []
