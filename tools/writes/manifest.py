"""Reading apply_yaml's manifests: bounded YAML, JSON values only, and the shape the code reads.

A manifest comes from a person or a model, so nothing in it is trusted before it is checked:

- **Parsing is bounded before it completes.**  YAML aliases are refused outright (Kubernetes
  manifests never need them, and they are what a "billion laughs" or quadratic blow-up is made
  of), so the parsed tree can never be larger than the text; nesting deeper than
  :data:`MAX_DEPTH` and more than :data:`MAX_NODES` nodes are refused while composing, before
  any value is built.  Explicit tags (``!!int``, ``!!python/…``) are refused too; dates stay
  strings, as ``kubectl`` keeps them.
- **Values are JSON values**: mappings with string keys, lists, strings, booleans, null,
  finite numbers within int64 — what the API server accepts and what the plan store can keep.
- **The shape is checked where the code reads it** (:data:`DOCUMENT`): every field apply_yaml,
  its pod-security checks, its facts and cost estimate look at has the type they expect, so
  reading a field can never raise.  Each refusal names the document and the path, e.g.
  ``document 1: metadata must be a mapping, got a string``.  Fields nobody reads are left to
  the API server's dry run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from tools import errors
from tools.args import DNS1123_LABEL, DNS1123_SUBDOMAIN

MAX_DEPTH = 32
MAX_NODES = 20_000
INT64 = 2**63
# A Kubernetes quantity, digits and exponent bounded so that it always parses to a finite float.
_QUANTITY = re.compile(r"^[+-]?(\d{1,20}(\.\d{0,20})?|\.\d{1,20})"
                       r"([eE][+-]?\d{1,2}|[KMGTPE]i|[numkMGTPE])?$")
_STR_TAG = "tag:yaml.org,2002:str"


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and explicit tags and bounds depth and size while
    composing (before any Python value is built)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        self.nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        line = f"line {event.start_mark.line + 1}" if event.start_mark else "the manifest"
        if isinstance(event, yaml.AliasEvent):
            raise errors.PlanRefused(
                f"{line}: YAML aliases (*{event.anchor}) are refused — Kubernetes manifests "
                "do not need them; write the value out")
        tag = getattr(event, "tag", None)
        if tag not in (None, "!", _STR_TAG):
            raise errors.PlanRefused(f"{line}: explicit YAML tags ({tag}) are refused; write "
                                     "plain values")
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise errors.PlanRefused(f"{line}: the manifest has more than {MAX_NODES} values")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise errors.PlanRefused(f"{line}: the manifest nests deeper than {MAX_DEPTH} "
                                         "levels")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _as_string(loader: _Loader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _as_string)


def load(text: str, limit: int) -> list[Any]:
    """The non-empty documents of ``text`` (at most ``limit``; more is refused)."""
    docs: list[Any] = []
    try:
        for doc in yaml.load_all(text, Loader=_Loader):  # a SafeLoader subclass
            if doc is None:
                continue
            docs.append(doc)
            if len(docs) > limit:
                raise errors.InvalidArguments(f"give 1 to {limit} objects, not more")
    except (yaml.YAMLError, ValueError) as exc:
        raise errors.InvalidArguments(f"the manifest is not valid YAML: {exc}") from exc
    if not docs:
        raise errors.InvalidArguments(f"give 1 to {limit} objects, not 0")
    return docs


def what(value: Any) -> str:
    """How a refusal names a value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def _json_values(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                yield f"{path or 'the document'} has a key that is {what(key)} ({key!r}), " \
                      "not a string"
            else:
                yield from _json_values(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _json_values(item, f"{path}[{i}]")
    elif isinstance(value, bool) or value is None or isinstance(value, str):
        return
    elif isinstance(value, int):
        if abs(value) >= INT64:
            yield f"{path} is a number beyond 64 bits"
    elif isinstance(value, float):
        if not math.isfinite(value):
            yield f"{path} is not a finite number"
    else:
        yield f"{path} is {what(value)}, which a manifest cannot hold"


# ---- the shape apply_yaml reads ---------------------------------------------------------------

@dataclass(frozen=True)
class Scalar:
    types: tuple[type, ...]
    label: str
    pattern: re.Pattern[str] | None = None
    minimum: int | None = None

    def problems(self, value: Any, path: str) -> Iterator[str]:
        if value is None:
            return
        if (isinstance(value, bool) and bool not in self.types) \
                or not isinstance(value, self.types):
            yield f"{path} must be {self.label}, got {what(value)}"
        elif self.pattern is not None and not self.pattern.match(str(value)):
            yield f"{path} must be {self.label}, got {str(value)[:80]!r}"
        elif self.minimum is not None and isinstance(value, int) and value < self.minimum:
            yield f"{path} must be {self.label}, got {value}"


@dataclass(frozen=True)
class Map:
    fields: dict[str, Shape] = field(default_factory=dict)
    values: Shape | None = None  # every value (labels, requests)
    required: tuple[str, ...] = ()

    def problems(self, value: Any, path: str) -> Iterator[str]:
        if value is None:
            return
        if not isinstance(value, dict):
            yield f"{path} must be a mapping, got {what(value)}"
            return
        for key in self.required:
            if value.get(key) is None:
                yield f"{path}.{key} is missing" if path else f"{key} is missing"
        for key, item in value.items():
            shape = self.fields.get(key, self.values)
            if shape is not None:
                yield from shape.problems(item, f"{path}.{key}" if path else key)


@dataclass(frozen=True)
class ListOf:
    item: Shape

    def problems(self, value: Any, path: str) -> Iterator[str]:
        if value is None:
            return
        if not isinstance(value, list):
            yield f"{path} must be a list, got {what(value)}"
            return
        for i, item in enumerate(value):
            yield from self.item.problems(item, f"{path}[{i}]")


Shape = Scalar | Map | ListOf

STR = Scalar((str,), "a string")
BOOL = Scalar((bool,), "true or false")
COUNT = Scalar((int,), "a whole number ≥ 0", minimum=0)
QUANTITY = Scalar((str, int, float), "a quantity such as 250m or 1Gi", _QUANTITY)
NAME = Scalar((str,), "a DNS-1123 name (lower-case letters, digits, '-' and '.')",
              re.compile(DNS1123_SUBDOMAIN))
NAMESPACE = Scalar((str,), "a namespace name (lower-case letters, digits and '-')",
                   re.compile(DNS1123_LABEL))
STR_MAP = Map(values=STR)
TYPED = Map({"type": STR})  # seccompProfile, appArmorProfile
SECURITY = Map({"privileged": BOOL, "allowPrivilegeEscalation": BOOL, "procMount": STR,
                "capabilities": Map({"add": ListOf(STR), "drop": ListOf(STR)}),
                "seccompProfile": TYPED, "appArmorProfile": TYPED, "seLinuxOptions": STR_MAP,
                "windowsOptions": Map({"hostProcess": BOOL}),
                "sysctls": ListOf(Map({"name": STR, "value": STR}))})
CONTAINER = Map({"name": STR, "image": STR, "securityContext": SECURITY,
                 "ports": ListOf(Map({"hostPort": COUNT, "containerPort": COUNT})),
                 "resources": Map({"requests": Map(values=QUANTITY),
                                   "limits": Map(values=QUANTITY)})})
POD = Map({"containers": ListOf(CONTAINER), "initContainers": ListOf(CONTAINER),
           "ephemeralContainers": ListOf(CONTAINER), "volumes": ListOf(Map({"name": STR})),
           "hostNetwork": BOOL, "hostPID": BOOL, "hostIPC": BOOL, "hostUsers": BOOL,
           "securityContext": SECURITY})
TEMPLATE = Map({"metadata": Map({"labels": STR_MAP, "annotations": STR_MAP}), "spec": POD})
DOCUMENT = Map({
    "apiVersion": STR, "kind": STR,
    "metadata": Map({"name": NAME, "namespace": NAMESPACE, "labels": STR_MAP,
                     "annotations": STR_MAP}, required=("name",)),
    "spec": Map({"replicas": COUNT, "minReplicas": COUNT, "maxReplicas": COUNT,
                 "template": TEMPLATE, "jobTemplate": Map({"spec": Map({"template": TEMPLATE})})}),
}, required=("apiVersion", "kind", "metadata"))


def check(doc: Any, index: int) -> dict[str, Any]:
    """``doc`` if it is a Kubernetes object of the shape apply_yaml reads, else PlanRefused
    naming every wrong path (at most five)."""
    where = f"document {index + 1}"
    if not isinstance(doc, dict):
        raise errors.PlanRefused(f"{where} is not a Kubernetes object (a mapping), it is "
                                 f"{what(doc)}")
    problems = list(_json_values(doc, ""))
    if not problems:
        problems = list(DOCUMENT.problems(doc, ""))
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise errors.PlanRefused(f"{where}: " + "; ".join(problems[:5]) + more)
    return doc
