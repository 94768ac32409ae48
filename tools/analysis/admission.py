"""Pods refused at admission, and admission webhooks that cannot answer.

A refused pod never exists, so no pod finding can tell the story: the only evidence is the
controller's ``ReplicaFailure`` condition and its ``FailedCreate`` events.  The refusal message
names what refused (a ResourceQuota, a LimitRange, PodSecurity, a webhook); the finding reads that
object back from the snapshot so the fix carries real numbers.
"""

from __future__ import annotations

import re
from typing import Any

from tools import quantity
from tools.analysis import proposals
from tools.analysis.findings import Finding
from tools.analysis.snapshot import Obj, Snapshot

QUOTA = re.compile(r"exceeded quota: (?P<name>[^,\s]+), requested: (?P<requested>\S+), "
                   r"used: (?P<used>\S+), limited: (?P<limited>\S+)")
LIMIT_RANGE = re.compile(r"(?P<bound>maximum|minimum) (?P<resource>\S+) usage per "
                         r"(?P<scope>Container|Pod) is (?P<allowed>\S+), but (?P<field>limit|"
                         r"request) is (?P<value>[^\s.,]+)")
POD_SECURITY = re.compile(r'violates PodSecurity "(?P<level>[^"]+)": (?P<why>.*)')
MUST = re.compile(r"must (?:set )?([^)]*)")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


def _pairs(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


def _amount(key: str, value: float) -> str:
    if key.endswith("cpu"):
        return quantity.cpu(value)
    if "memory" in key or "storage" in key:
        return quantity.memory(value)
    return f"{value:g}"


def _workload(snapshot: Snapshot, kind: str, name: str) -> tuple[str, str, Obj | None]:
    """The Deployment behind a ReplicaSet (by owner, else by name prefix); others as given."""
    plural = {"Deployment": "deployments", "StatefulSet": "statefulsets",
              "DaemonSet": "daemonsets", "Job": "jobs", "ReplicaSet": "replicasets"}[kind]
    obj = next((o for o in snapshot[plural] if o["metadata"]["name"] == name), None)
    if kind != "ReplicaSet":
        return kind, name, obj
    refs = (obj or {}).get("metadata", {}).get("ownerReferences") or []
    owner = next((r["name"] for r in refs if r.get("kind") == "Deployment"), None)
    for d in snapshot["deployments"]:
        if d["metadata"]["name"] == owner or (owner is None and name.startswith(
                d["metadata"]["name"] + "-")):
            return "Deployment", d["metadata"]["name"], d
    return kind, name, obj


def _short(obj: Obj | None, kind: str) -> tuple[int, int]:
    """(desired, existing pods) of a workload as its status reports them."""
    spec, status = (obj or {}).get("spec") or {}, (obj or {}).get("status") or {}
    if kind == "DaemonSet":
        return int(status.get("desiredNumberScheduled", 0)), int(
            status.get("currentNumberScheduled", 0))
    if kind == "Job":
        done = any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
                   for c in status.get("conditions") or [])
        return (0, 0) if done else (int(spec.get("parallelism", 1)), int(
            status.get("active", 0)))
    return int(spec.get("replicas", 1)), int(status.get("replicas", 0))


def _refusals(snapshot: Snapshot) -> dict[tuple[str, str], tuple[Obj | None, list[str]]]:
    """(kind, name) of a workload -> (its object, refusal messages), current ones only."""
    found: dict[tuple[str, str], tuple[Obj | None, list[str]]] = {}

    def add(kind: str, name: str, message: str, current: bool) -> None:
        kind, name, obj = _workload(snapshot, kind, name)
        desired, existing = _short(obj, kind)
        if not current and existing >= desired:
            return  # an old event: the controller has since created every pod
        messages = found.setdefault((kind, name), (obj, []))[1]
        if message and message not in messages:
            messages.append(message)

    for kind, plural in (("Deployment", "deployments"), ("ReplicaSet", "replicasets"),
                         ("StatefulSet", "statefulsets"), ("DaemonSet", "daemonsets")):
        for obj in snapshot[plural]:
            for cond in (obj.get("status") or {}).get("conditions") or []:
                if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
                    add(kind, obj["metadata"]["name"], cond.get("message") or "", True)
    for event in snapshot["events"]:
        about = event.get("involvedObject") or {}
        if event.get("reason") == "FailedCreate" and about.get("kind") in (
                *WORKLOAD_KINDS, "ReplicaSet"):
            add(about["kind"], about.get("name", ""), event.get("message") or "", False)
    return found


def _distinct(messages: list[str]) -> list[str]:
    """One message per refusal (the pod name in each differs)."""
    seen, kept = set(), []
    for message in messages:
        key = re.sub(r'pods? "[^"]*"', "pods", message.removeprefix("Error creating: "))
        if key not in seen:
            seen.add(key)
            kept.append(message)
    return kept


def _explain(snapshot: Snapshot, workload: Obj | None, message: str, missing: int
             ) -> tuple[str, str, list[str], dict[str, Any] | None]:
    """(cause, fix, evidence, proposal) for one refusal message."""
    if m := QUOTA.search(message):
        name = m["name"]
        quota = next((q for q in snapshot["quotas"] if q["metadata"]["name"] == name), None)
        status = (quota or {}).get("status") or {}
        hard, used = status.get("hard") or {}, status.get("used") or {}
        evidence, raise_to = [], []
        for key, each in _pairs(m["requested"]).items():
            now = used.get(key, _pairs(m["used"]).get(key, "0"))
            cap = hard.get(key, _pairs(m["limited"]).get(key, "?"))
            evidence.append(f"ResourceQuota {name} {key}: used {now} of {cap}; each new pod "
                            f"requests {each}")
            need = (quantity.parse(now) or 0) + (quantity.parse(each) or 0) * max(missing, 1)
            raise_to.append(f"{key} to at least {_amount(key, need)}")
        return (f"new pods are refused by ResourceQuota {name}: one more pod would exceed it",
                f"raise ResourceQuota {name} {', '.join(raise_to)} (room for the {missing} "
                "missing pods), or lower the pods' "
                f"{'/'.join(_pairs(m['requested']))}, or free quota elsewhere", evidence, None)
    if m := LIMIT_RANGE.search(message):
        resource, allowed, value = m["resource"], m["allowed"], m["value"]
        section = "limits" if m["field"] == "limit" else "requests"
        bound = "max" if m["bound"] == "maximum" else "min"
        ranges = [lr["metadata"]["name"] for lr in snapshot["limitranges"]
                  for item in (lr.get("spec") or {}).get("limits") or []
                  if item.get("type") == m["scope"]
                  and str((item.get(bound) or {}).get(resource)) == allowed]
        where = f"LimitRange {', '.join(ranges)}" if ranges else "a LimitRange"
        containers = [c["name"] for c in ((((workload or {}).get("spec") or {}).get(
            "template") or {}).get("spec") or {}).get("containers") or []
            if str((((c.get("resources") or {}).get(section)) or {}).get(resource)) == value]
        return (f"new pods are refused by {where}: {section}.{resource} {value} is "
                f"{'above its maximum' if m['bound'] == 'maximum' else 'below its minimum'} "
                f"{allowed} per {m['scope']}",
                f"set {section}.{resource} to {allowed} on "
                f"{', '.join(containers) or 'the containers'} (or change the {where} "
                f"{m['bound']})", [f"{where}: {m['scope']} {m['bound'][:3]} {resource}={allowed}",
                                   f"pod {section}.{resource}={value}"],
                proposals.resources(workload, {c: {section: {resource: allowed}}
                                               for c in containers}))
    if m := POD_SECURITY.search(message):
        musts = list(dict.fromkeys(MUST.findall(m["why"])))
        return (f"new pods violate the namespace's PodSecurity level {m['level']}",
                "set in the pod template: " + "; ".join(musts) if musts else
                "make the pod template meet the namespace's pod-security level",
                [f'admission: violates PodSecurity "{m["level"]}"'], None)
    if "service account" in message or 'serviceaccount "' in message:
        return ("the pods' ServiceAccount does not exist",
                "create the ServiceAccount or fix serviceAccountName in the pod template", [],
                None)
    if "webhook" in message:
        return ("an admission webhook refuses the new pods",
                "fix what the webhook names (its message below), or its Service if it cannot "
                "be called", [], None)
    return ("the controller cannot create the pods", "read the admission message below: it "
            "names the object that refuses the pods", [], None)


def refused_pods(snapshot: Snapshot) -> list[Finding]:
    findings = []
    for (kind, name), (obj, messages) in _refusals(snapshot).items():
        messages = _distinct(messages)
        if not messages:
            continue
        desired, existing = _short(obj, kind)
        cause, fix, evidence, proposal = _explain(snapshot, obj, messages[0],
                                                  max(desired - existing, 1))
        available = int(((obj or {}).get("status") or {}).get("availableReplicas", 0))
        findings.append(Finding(
            "CannotCreatePods", "critical", kind, snapshot.namespace, name,
            cause + (f" ({available} of {desired} available)" if kind != "Job" else ""), fix,
            [*evidence, *(f"FailedCreate: {text}" for text in messages[:3])], [], proposal))
    return findings


def _hooks(snapshot: Snapshot) -> list[tuple[str, Obj, Obj]]:
    """(kind, configuration, webhook) of every webhook served from this namespace."""
    return [(kind, conf, hook)
            for kind, plural in (("ValidatingWebhookConfiguration", "validatingwebhooks"),
                                 ("MutatingWebhookConfiguration", "mutatingwebhooks"))
            for conf in snapshot[plural] for hook in conf.get("webhooks") or []
            if ((hook.get("clientConfig") or {}).get("service") or {}).get(
                "namespace") == snapshot.namespace]


def webhooks(snapshot: Snapshot) -> list[Finding]:
    """Webhooks whose Service (in this namespace) is missing or has no ready endpoint."""
    findings = []
    services = {s["metadata"]["name"] for s in snapshot["services"]}
    endpoints = {e["metadata"]["name"]: sum(len(s.get("addresses") or [])
                                            for s in e.get("subsets") or [])
                 for e in snapshot["endpoints"]}
    for kind, conf, hook in _hooks(snapshot):
        service = hook["clientConfig"]["service"]["name"]
        if service in services and (endpoints.get(service) or not snapshot.seen("endpoints")):
            continue
        why = "does not exist" if service not in services else "has no ready endpoint"
        failing = hook.get("failurePolicy", "Fail") == "Fail"
        findings.append(Finding(
            "WebhookServiceMissing", "critical" if failing else "warning", kind, "",
            conf["metadata"]["name"],
            f"webhook {hook.get('name')} calls Service {snapshot.namespace}/{service}, which "
            f"{why}: " + ("every request it matches is refused" if failing else
                          "it is skipped (failurePolicy Ignore)"),
            f"restore Service {service} and its pods, or delete the {kind} if the webhook is "
            "gone", [f"{kind} {conf['metadata']['name']} webhook {hook.get('name')} → "
                     f"service {snapshot.namespace}/{service} ({why})",
                     f"failurePolicy={hook.get('failurePolicy', 'Fail')}"]))
    return findings
