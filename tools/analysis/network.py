"""Traffic that cannot arrive: an Ingress no controller serves (its class does not exist) or
whose backend Service (or port) does not exist, and NetworkPolicies under which no traffic can
reach a Service's pods.

A class is judged only when IngressClasses could be read; an Ingress without a class is left
alone (a controller may take classless Ingresses).
"""

from __future__ import annotations

from tools.analysis.findings import Finding
from tools.analysis.snapshot import Obj, Snapshot

CLASS_ANNOTATION = "kubernetes.io/ingress.class"


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _backends(ingress: Obj) -> list[tuple[str, Obj]]:
    """(host+path, backend service) of every rule and the default backend."""
    spec = ingress.get("spec") or {}
    found = [("(default backend)", (spec.get("defaultBackend") or {}).get("service") or {})]
    for rule in spec.get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            found.append((f"{rule.get('host', '*')}{path.get('path', '/')}",
                          (path.get("backend") or {}).get("service") or {}))
    return [(where, svc) for where, svc in found if svc.get("name")]


def ingresses(snapshot: Snapshot) -> list[Finding]:
    findings, ns = [], snapshot.namespace
    services = {s["metadata"]["name"]: s for s in snapshot["services"]}
    classes = [c["metadata"]["name"] for c in snapshot["ingressclasses"]]
    for ingress in snapshot["ingresses"]:
        name = ingress["metadata"]["name"]
        wanted = (ingress.get("spec") or {}).get("ingressClassName") or (
            ingress["metadata"].get("annotations") or {}).get(CLASS_ANNOTATION)
        if wanted and snapshot.seen("ingressclasses") and wanted not in classes:
            findings.append(Finding(
                "IngressClassMissing", "critical", "Ingress", ns, name,
                f"IngressClass {wanted} does not exist, so no controller serves this Ingress",
                f"set ingressClassName to an existing class ({', '.join(classes) or 'none'})"
                " or install the controller for it",
                [f"ingressClassName={wanted}", f"IngressClasses: {', '.join(classes) or 'none'}"]))
        problems = []
        for where, backend in _backends(ingress):
            service = services.get(backend["name"])
            port = backend.get("port") or {}
            wanted_port = port.get("number", port.get("name"))
            if service is None:
                problems.append((f"{where} → service {backend['name']} does not exist",
                                 f"create Service {backend['name']} or point {where} at an "
                                 f"existing one ({', '.join(sorted(services)) or 'none'})"))
                continue
            ports = (service.get("spec") or {}).get("ports") or []
            offered = {p.get("port") for p in ports} | {p.get("name") for p in ports}
            if wanted_port is not None and wanted_port not in offered:
                listed = ", ".join(f"{p.get('name') or ''}:{p.get('port')}".lstrip(":")
                                   for p in ports)
                problems.append((f"{where} → service {backend['name']} port {wanted_port}, "
                                 f"which it does not have (ports: {listed})",
                                 f"use one of Service {backend['name']}'s ports ({listed})"))
        if problems:
            findings.append(Finding(
                "IngressBackendMissing", "critical", "Ingress", ns, name,
                f"requests to {problems[0][0].split(' → ')[0]} cannot reach a backend",
                problems[0][1], [p for p, _ in problems]))
    return findings


def _selected(policy: Obj, labels: dict[str, str]) -> bool:
    selector = (policy.get("spec") or {}).get("podSelector") or {}
    return not selector.get("matchExpressions") and _matches(
        selector.get("matchLabels") or {}, labels)


def _isolates_ingress(policy: Obj) -> bool:
    spec = policy.get("spec") or {}
    return "Ingress" in (spec.get("policyTypes") or ["Ingress"])


def _peer_admits(snapshot: Snapshot, peer: Obj) -> bool:
    """A peer that admits someone: any ipBlock or namespaceSelector, or pods that exist."""
    if "podSelector" not in peer or "namespaceSelector" in peer:
        return True
    selector = peer["podSelector"] or {}
    if selector.get("matchExpressions"):
        return True  # not judged
    return any(_matches(selector.get("matchLabels") or {}, p["metadata"].get("labels") or {})
               for p in snapshot["pods"])


def _admits(snapshot: Snapshot, policy: Obj, ports: set[object]) -> bool:
    """Whether one rule of ``policy`` lets someone reach one of ``ports`` on its pods."""
    for rule in (policy.get("spec") or {}).get("ingress") or []:
        rule_ports = {p.get("port") for p in rule.get("ports") or []}
        if rule.get("ports") and not (rule_ports & ports or None in rule_ports):
            continue
        peers = rule.get("from") or []
        if not peers or any(_peer_admits(snapshot, peer) for peer in peers):
            return True
    return False


def network_policies(snapshot: Snapshot) -> list[Finding]:
    findings = []
    for svc in snapshot["services"]:
        spec, name = svc.get("spec") or {}, svc["metadata"]["name"]
        selector = spec.get("selector") or {}
        pods = [p for p in snapshot["pods"] if selector and _matches(
            selector, p["metadata"].get("labels") or {})]
        if not pods:
            continue
        labels = pods[0]["metadata"].get("labels") or {}
        policies = [p for p in snapshot["networkpolicies"]
                    if _selected(p, labels) and _isolates_ingress(p)]
        ports: set[object] = {p.get("targetPort", p.get("port")) for p in spec.get("ports") or []}
        ports |= {cp.get("containerPort") for c in (pods[0].get("spec") or {}).get(
            "containers") or [] for cp in c.get("ports") or [] if cp.get("name") in ports}
        if not policies or any(_admits(snapshot, p, ports) for p in policies):
            continue
        findings.append(Finding(
            "NetworkPolicyIsolates", "warning", "Service", snapshot.namespace, name,
            f"NetworkPolicy {', '.join(p['metadata']['name'] for p in policies)} selects the "
            f"pods of service {name} and admits no traffic to its ports, so nothing can reach it",
            "add an ingress rule that admits the clients (podSelector/namespaceSelector) on "
            f"port {', '.join(sorted(map(str, ports - {None})))}, or narrow the policy's "
            "podSelector", [f"NetworkPolicy {p['metadata']['name']} podSelector "
                            f"{(p.get('spec') or {}).get('podSelector') or {}}, ingress rules "
                            f"{(p.get('spec') or {}).get('ingress') or []}" for p in policies]
            + [f"service selector {selector} matches {len(pods)} pods"]))
    return findings
