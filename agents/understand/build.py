"""From an intent and what was found in the words to the tool's arguments — or to a question
when the target, the amount or the command is missing or unclear."""

from __future__ import annotations

from typing import Any

from agents.understand import slots
from agents.understand.edits import Edit
from agents.understand.names import KIND_WORDS, WORKLOADS, Inventory, Mention, Obj, prefer
from agents.understand.result import (
    Understanding,
    ask,
    database,
    nothing,
    target_of,
)

SIDECARS = ("istio-proxy", "envoy", "linkerd-proxy", "cloud-sql-proxy", "fluent-bit",
            "fluentd", "vault-agent", "datadog-agent", "otel-collector", "sidecar")
VERB = {"get_deployment_status": "status", "view_logs": "logs", "scale_deployment": "scale",
        "restart": "restart", "rollback_deployment": "rollback", "exec_command": "exec",
        "delete_resource": "delete", "update_configmap": "set", "get_events": "events",
        "get_resource_usage": "usage", "troubleshoot_issues": "troubleshoot",
        "analyze_performance": "performance", "suggest_optimizations": "optimize",
        "recent_changes": "changes"}
KINDS: dict[str, tuple[str, ...]] = {
    "get_deployment_status": WORKLOADS, "view_logs": (*WORKLOADS, "Pod", "CronJob"),
    "exec_command": (*WORKLOADS, "Pod"), "scale_deployment": ("Deployment",),
    "restart": ("Deployment", "Pod"), "rollback_deployment": ("Deployment",),
    "update_configmap": ("ConfigMap",), "get_resource_usage": (*WORKLOADS, "Pod"),
    "troubleshoot_issues": (*WORKLOADS, "CronJob", "Pod"),
    "analyze_performance": WORKLOADS, "suggest_optimizations": WORKLOADS,
    "recent_changes": (*WORKLOADS, "ConfigMap", "CronJob"),
    "get_events": (*WORKLOADS, "Pod", "CronJob", "Service", "ConfigMap"),
}
OPTIONAL = {"get_resource_usage", "troubleshoot_issues", "analyze_performance",
            "suggest_optimizations", "recent_changes", "get_events"}


def build(intent: str, confidence: float, found: slots.Slots, named: list[Mention],
          inventory: Inventory, edit: Edit | None, unknown: list[str], leftovers: list[str]
          ) -> Understanding:
    where = {"namespace": found.namespace} if found.namespace else {}
    if intent in ("list_pods", "list_services"):
        return Understanding(intent, where, confidence)
    if intent in ("generate_backup_strategy", "create_backup_job", "create_backup_cronjob"):
        return _backup(intent, confidence, found, named, inventory, leftovers)
    if intent == "delete_resource":
        return _delete(confidence, found, named, inventory, unknown, leftovers)
    if intent == "update_configmap":
        return _configmap(confidence, found, named, inventory, edit)
    kinds = KINDS[intent]
    if intent in ("scale_deployment", "restart", "rollback_deployment", "exec_command"):
        several = _several(named, inventory, found, kinds)
        if several:
            verb = VERB.get(intent, intent)
            return ask(f"One change at a time: which of {', '.join(several)} first?",
                       *(f"{verb} {n}" for n in several))
    target, question = target_of(named, inventory, found, kinds)
    if question is not None:
        verb = VERB.get(intent, intent)
        return ask(question.question, *(f"{verb} {c}" for c in question.choices))
    if target is None:
        if intent in OPTIONAL and not unknown:
            return Understanding(intent, {**where, **_window(intent, found)}, confidence)
        if named:  # it names something, of a kind this does not apply to
            other = named[0].objects[0]
            verb = VERB.get(intent, intent)
            return ask(f"{other.name} is a {other.kind}: `{verb}` works on "
                       f"{' and '.join(k + 's' for k in kinds)} only.",
                       f"status {other.name}", f"events {other.name}")
        return nothing(VERB.get(intent, intent), unknown or leftovers, inventory, kinds)
    args: dict[str, Any] = {"namespace": target.namespace}
    if intent == "view_logs":
        return _logs(confidence, found, target, inventory)
    if intent == "exec_command":
        if not found.command:
            return ask(f"What should I run in {target.name}? Say it as `exec {target.name} "
                       "-- COMMAND`.", f"exec {target.name} -- env")
        return Understanding(intent, {**args, "workload": target.name,
                                      "command": found.command}, confidence, target=target)
    if intent == "scale_deployment":
        return _scale(confidence, found, target)
    if intent == "restart":
        args["kind"] = target.kind.lower()
    if intent == "rollback_deployment" and found.revision is not None:
        args["revision"] = found.revision
    if intent == "get_events":
        return Understanding(intent, {**args, "object_name": target.name}, confidence,
                             target=target)
    return Understanding(intent, {**args, "name": target.name, **_window(intent, found)},
                         confidence, target=target)


def _several(named: list[Mention], inventory: Inventory, found: slots.Slots,
             kinds: tuple[str, ...]) -> list[str]:
    """The distinct objects of ``kinds`` a request names, when it names more than one."""
    names = list(dict.fromkeys(o.name for m in named
                               for o in prefer(m.objects, inventory, found.namespace, kinds)))
    return names if len(names) > 1 else []


def _window(intent: str, found: slots.Slots) -> dict[str, Any]:
    if intent == "recent_changes" and found.since_minutes:
        return {"since_minutes": found.since_minutes}
    return {}


def _logs(confidence: float, found: slots.Slots, target: Obj, inventory: Inventory
          ) -> Understanding:
    args: dict[str, Any] = {"namespace": target.namespace, "workload": target.name}
    pods = [target] if target.kind == "Pod" else inventory.pods_of(target)
    containers = target.containers or (pods[0].containers if pods else ())
    apps = [c for c in containers if not any(s in c for s in SIDECARS)]
    said = [w for w in found.words if w in containers and w != target.name]
    if found.container:
        args["container"] = found.container
    elif said and "container" in found.words:
        args["container"] = said[0]
    elif found.sidecar:
        side = [c for c in containers if c not in apps]
        if len(side) == 1:
            args["container"] = side[0]
    elif len(containers) == 1:
        args["container"] = containers[0]
    elif len(containers) > 1:
        chosen = app_container(containers, target.name)
        if chosen is not None:
            args["container"] = chosen
        else:
            return ask(f"{target.name} has containers {', '.join(containers)}: which one?",
                       *(f"logs {target.name} -c {c}" for c in containers))
    if found.tail_lines:
        args["tail_lines"] = found.tail_lines
    if found.previous:
        args["previous"] = True
    return Understanding("view_logs", args, confidence, target=target)


def app_container(containers: tuple[str, ...], workload: str) -> str | None:
    """The application's container among sidecars: the only one that is no known sidecar,
    else the one named like its workload; None when that does not decide it."""
    apps = [c for c in containers if not any(s in c for s in SIDECARS)]
    if len(apps) == 1:
        return apps[0]
    return workload if workload in containers else None


def _scale(confidence: float, found: slots.Slots, target: Obj
           ) -> Understanding:
    current = target.replicas if target.replicas is not None else 1
    if found.replicas is not None:
        replicas = found.replicas
    elif found.delta is not None:
        replicas = current + found.delta
    elif found.factor is not None:
        if (current * found.factor) % 1:
            return ask(f"{target.name} has {current} replicas; {current} × {found.factor:g} is "
                       "not a whole number. How many?",
                       f"scale {target.name} {int(current * found.factor)}",
                       f"scale {target.name} {int(current * found.factor) + 1}")
        replicas = int(current * found.factor)
    elif found.numbers:
        replicas = found.numbers[0]
    else:
        return ask(f"To how many replicas? {target.name} has {current}.",
                   f"scale {target.name} {current + 1}",
                   f"scale {target.name} {max(current - 1, 0)}")
    if replicas < 0:
        return ask(f"{target.name} has {current} replicas; it cannot go below 0.",
                   f"scale {target.name} 0")
    return Understanding("scale_deployment", {"namespace": target.namespace,
                                              "name": target.name, "replicas": replicas},
                         confidence, target=target)


def _backup(intent: str, confidence: float, found: slots.Slots, named: list[Mention],
            inventory: Inventory, leftovers: list[str]) -> Understanding:
    target, question = database(named, inventory, found, leftovers)
    if question is not None:
        return question
    if target is None:
        return nothing("backup", leftovers, inventory, ("StatefulSet",))
    args: dict[str, Any] = {"namespace": target.namespace, "database": target.name}
    if intent == "create_backup_job":
        args["destination_pvc"] = found.pvc
    return Understanding(intent, args, confidence, target=target)


def _delete(confidence: float, found: slots.Slots, named: list[Mention], inventory: Inventory,
            unknown: list[str], leftovers: list[str]) -> Understanding:
    said = {KIND_WORDS[w] for w in found.words if w in KIND_WORDS} - {"Pod"}
    if len(said) > 1:
        return ask(f"Delete which kind of object: {', '.join(sorted(said))}?",
                   *(f"delete {k.lower()} NAME" for k in sorted(said)))
    kinds = (found.kind,) if found.kind else ("Deployment", "StatefulSet", "ConfigMap",
                                               "Service", "CronJob", "Pod")
    several = _several(named, inventory, found, kinds)
    if several:
        return ask(f"One deletion at a time: which of {', '.join(several)}?",
                   *(f"delete {(found.kind or 'deployment').lower()} {n}" for n in several))
    target, question = target_of(named, inventory, found, kinds)
    if question is not None:
        return ask(question.question, *(f"delete {(found.kind or 'deployment').lower()} {c}"
                                        for c in question.choices))
    if target is None and found.kind == "Secret" and unknown:
        return Understanding("delete_resource", {"kind": "secret", "name": unknown[0],
                                                 **({"namespace": found.namespace}
                                                    if found.namespace else {})}, confidence)
    if target is None:
        return nothing("delete", unknown or leftovers, inventory, kinds)
    keys = [k for k in target.keys if k.lower() in found.words]
    if keys:  # "delete web-app-config LOG_LEVEL": a key, or the whole ConfigMap?
        return ask(f"Remove {keys[0]} from {target.name}, or delete the whole ConfigMap?",
                   f"remove {keys[0]} from {target.name}", f"delete configmap {target.name}")
    return Understanding("delete_resource", {"namespace": target.namespace,
                                             "kind": target.kind.lower(), "name": target.name},
                         confidence, target=target)


def _configmap(confidence: float, found: slots.Slots, named: list[Mention],
               inventory: Inventory, edit: Edit | None) -> Understanding:
    assert edit is not None
    configmaps = _several(named, inventory, found, ("ConfigMap",))
    if configmaps:
        return ask(f"One ConfigMap at a time: which of {', '.join(configmaps)} first?")
    target, question = target_of(named, inventory, found, ("ConfigMap",))
    if edit.valueless and not (edit.set or edit.remove):
        key = edit.valueless[0]
        where = f" in {target.name}" if target is not None else ""
        return ask(f"What value should {key}{where} get?", f"set {key}=VALUE{where}")
    if question is not None:
        return question
    if target is None:
        keys = set(edit.set) | set(edit.remove)
        having = [cm for cm in inventory.of("ConfigMap") if keys <= set(cm.keys)
                  and (found.namespace is None or cm.namespace == found.namespace)]
        here = [cm for cm in having if cm.namespace == inventory.current]
        others = [o.name for m in named for o in m.objects if o.kind != "ConfigMap"]
        if having and others:  # "set TIMEOUT_MS=5000 for web-app": not web-app's config
            return ask(f"{', '.join(sorted(keys))} is in {having[0].name}, not in a ConfigMap "
                       f"of {others[0]}: change it there?",
                       *(f"set {k}={v} in {having[0].name}" for k, v in
                         list(edit.set.items())[:1]))
        if len(having) == 1 or (len(here) == 1 and len({c.name for c in having}) == 1):
            target = (here or having)[0]
        else:
            shown = ", ".join(sorted({f"{c.name} ({c.namespace})" for c in having})) or \
                ", ".join(sorted({c.name for c in inventory.of("ConfigMap")}))
            return ask(f"Which ConfigMap should I change? ({shown})",
                       *(f"set {k}={v} in {c.name}" for c in having for k, v in
                         list(edit.set.items())[:1]))
    args: dict[str, Any] = {"namespace": target.namespace, "name": target.name}
    if edit.set:
        args["set"] = dict(edit.set)
    if edit.remove:
        args["remove"] = list(edit.remove)
    return Understanding("update_configmap", args, confidence, target=target)
