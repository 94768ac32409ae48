"""Label and field selectors with the API server's grammar and limits.

Label selectors: ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a``, ``!a``,
comma-separated (AND).  Field selectors: ``=``, ``==``, ``!=`` over the fields each kind
supports (``metadata.name``/``metadata.namespace`` everywhere, a few more per kind); any other
field is refused like the real server does (400, ``field label not supported``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sandbox.kube.errors import bad_request

Requirement = Callable[[dict[str, str]], bool]
_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_SET = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ = re.compile(rf"^\s*({_KEY})\s*(==|!=|=)\s*([-A-Za-z0-9_.]*)\s*$")
_EXISTS = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    terms, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [t for t in terms if t.strip()]


def _requirement(term: str) -> Requirement:
    if match := _SET.match(term):
        key, op, raw = match.group(1), match.group(3), match.group(4)
        values = {v.strip() for v in raw.split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if match := _EQ.match(term):
        key, op, value = match.group(1), match.group(3), match.group(4)
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if match := _EXISTS.match(term):
        negated, key = match.group(1) == "!", match.group(2)
        return (lambda labels: key not in labels) if negated else (lambda labels: key in labels)
    raise bad_request(f"unable to parse requirement: {term.strip()!r}")


def label_matcher(text: str | None) -> Callable[[dict[str, Any]], bool]:
    """A predicate over objects for the label selector ``text`` (None/'' = everything)."""
    if not text:
        return lambda obj: True
    requirements = [_requirement(term) for term in _split_terms(text)]

    def matches(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(req(labels) for req in requirements)

    return matches


def selector_from_match(selector: dict[str, Any] | None) -> Callable[[dict[str, Any]], bool]:
    """A predicate for a LabelSelector object (``matchLabels`` + ``matchExpressions``)."""
    if not selector:
        return lambda obj: False  # an empty selector in a workload selects nothing here
    terms = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), expr.get("values") or []
        if op in ("In", "NotIn"):
            terms.append(f"{key} {op.lower()} ({','.join(values)})")
        elif op == "Exists":
            terms.append(str(key))
        elif op == "DoesNotExist":
            terms.append(f"!{key}")
    return label_matcher(",".join(terms)) if terms else (lambda obj: False)


def _lookup(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# Field labels each kind supports beyond metadata.name / metadata.namespace.
FIELD_LABELS: dict[str, set[str]] = {
    "Pod": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
            "spec.serviceAccountName", "status.phase", "status.podIP", "status.nominatedNodeName"},
    "Event": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
              "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
              "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"},
    "Secret": {"type"},
    "Namespace": {"status.phase"},
    "Node": {"spec.unschedulable"},
    "ReplicaSet": {"status.replicas"},
    "Job": {"status.successful"},
    "PersistentVolumeClaim": set(),
}


def field_matcher(text: str | None, kind: str) -> Callable[[dict[str, Any]], bool]:
    if not text:
        return lambda obj: True
    allowed = {"metadata.name", "metadata.namespace"} | FIELD_LABELS.get(kind, set())
    checks: list[Callable[[dict[str, Any]], bool]] = []
    for term in _split_terms(text):
        match = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*$", term)
        if not match:
            raise bad_request(f"invalid field selector: {term.strip()!r}")
        field, op, value = match.groups()
        if field not in allowed:
            raise bad_request(f'field label not supported: {field}')
        path = "source.component" if field == "source" else field
        checks.append(_field_check(path, value, negate=op == "!="))
    return lambda obj: all(check(obj) for check in checks)


def _field_check(path: str, value: str, negate: bool) -> Callable[[dict[str, Any]], bool]:
    return lambda obj: (_lookup(obj, path) == value) != negate
