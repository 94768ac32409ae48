"""Fixture files: multi-document YAML of ordinary manifests plus three sandbox kinds.

``sandbox.hexabot.io/v1 User`` (``metadata.name``, ``token``, ``groups``) defines who may call
the server; ``sandbox.hexabot.io/v1 PodLogs`` (``containers: {NAME: {current, previous}}``)
gives a pod its log text; ``sandbox.hexabot.io/v1 Image`` (``metadata.name`` = an image
reference such as ``registry.example.com/shop/api:2.5.0``, and either ``crash: {exitCode: 1,
reason: Error, message: ""}`` -- every field optional, those are the defaults -- or ``pull:
fail``) makes containers started from that image crash-loop or fail to pull, as the kubelet
would report them (``images.py``, ``kubelet.py``; tests add more at run time with
``cluster.images.set``).  Missing uid / resourceVersion / creationTimestamp are filled in, and
an ``ownerReference`` may name its owner by kind and name only (the uid is resolved).  A bad
fixture is refused with the file, the document index and the reason (:class:`FixtureError`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import yaml

from sandbox.kube.images import Behaviour, parse_image
from sandbox.kube.resources import SANDBOX_GROUP, Kind, Registry

SANDBOX_API = f"{SANDBOX_GROUP}/v1"


class FixtureError(ValueError):
    def __init__(self, source: str, index: int | None, reason: str) -> None:
        where = f"{source}: document {index}" if index is not None else source
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class FixtureUser:
    name: str
    token: str
    groups: tuple[str, ...]


@dataclass
class Fixture:
    source: str
    objects: list[tuple[Kind, dict[str, Any]]] = field(default_factory=list)
    users: list[FixtureUser] = field(default_factory=list)
    logs: dict[tuple[str, str], dict[str, dict[str, str]]] = field(default_factory=dict)
    images: dict[str, Behaviour] = field(default_factory=dict)


def _user(doc: dict[str, Any], fail: Callable[[str], NoReturn]) -> FixtureUser:
    name = doc["metadata"]["name"]
    token = doc.get("token")
    if not isinstance(token, str) or not token:
        fail(f"User {name!r} needs a non-empty string 'token'")
    groups = doc.get("groups") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        fail(f"User {name!r}: 'groups' must be a list of strings")
    unknown = set(doc) - {"apiVersion", "kind", "metadata", "token", "groups"}
    if unknown:
        fail(f"User {name!r}: unknown keys {sorted(unknown)}")
    return FixtureUser(name=name, token=token, groups=tuple(groups))


def _logs(doc: dict[str, Any], fail: Callable[[str], NoReturn]) -> dict[str, dict[str, str]]:
    containers = doc.get("containers")
    if not isinstance(containers, dict) or not containers:
        fail("PodLogs needs 'containers: {NAME: {current: TEXT, previous: TEXT}}'")
    result: dict[str, dict[str, str]] = {}
    for name, texts in containers.items():
        if not isinstance(texts, dict) or set(texts) - {"current", "previous"}:
            fail(f"PodLogs container {name!r} takes only 'current' and 'previous' texts")
        result[str(name)] = {k: str(v) for k, v in texts.items() if v is not None}
    return result


def parse(text: str, source: str, registry: Registry) -> Fixture:
    fixture = Fixture(source=source)
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise FixtureError(source, None, f"not valid YAML: {exc}") from exc
    seen: dict[tuple[str, str | None, str], dict[str, Any]] = {}
    for index, doc in enumerate(documents):
        def fail(reason: str, index: int = index) -> NoReturn:
            raise FixtureError(source, index, reason)

        if doc is None:
            continue
        if not isinstance(doc, dict):
            fail(f"expected a mapping (a Kubernetes manifest), got {type(doc).__name__}")
        api_version, kind_name = doc.get("apiVersion"), doc.get("kind")
        meta = doc.get("metadata")
        if not api_version or not kind_name:
            fail("missing 'apiVersion' or 'kind'")
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
            fail(f"{kind_name}: missing 'metadata.name'")
        if api_version == SANDBOX_API and kind_name == "User":
            fixture.users.append(_user(doc, fail))
            continue
        if api_version == SANDBOX_API and kind_name == "PodLogs":
            namespace = meta.get("namespace") or "default"
            fixture.logs[(namespace, meta["name"])] = _logs(doc, fail)
            continue
        if api_version == SANDBOX_API and kind_name == "Image":
            ref, behaviour = parse_image(doc, fail)
            if ref in fixture.images:
                fail(f"duplicate Image {ref}")
            fixture.images[ref] = behaviour
            continue
        kind = registry.by_kind(str(api_version), str(kind_name))
        if kind is None or kind.create_only:
            fail(f"unknown kind {kind_name!r} in apiVersion {api_version!r}")
        assert kind is not None
        namespace = (meta.get("namespace") or "default") if kind.namespaced else None
        if kind.namespaced:
            meta["namespace"] = namespace
        key = (kind.kind, namespace, meta["name"])
        if key in seen:
            fail(f"duplicate {kind.kind} {namespace + '/' if namespace else ''}{meta['name']}")
        meta.setdefault("uid", str(uuid.uuid4()))
        seen[key] = doc
        fixture.objects.append((kind, doc))
    names = [u.name for u in fixture.users]
    tokens = [u.token for u in fixture.users]
    if len(set(names)) != len(names) or len(set(tokens)) != len(tokens):
        raise FixtureError(source, None, "User names and tokens must be unique")
    _resolve_owners(fixture, seen)
    return fixture


def _resolve_owners(fixture: Fixture, seen: dict[tuple[str, str | None, str],
                                                dict[str, Any]]) -> None:
    for index, (kind, doc) in enumerate(fixture.objects):
        for ref in doc["metadata"].get("ownerReferences") or []:
            if ref.get("uid"):
                continue
            owner = seen.get((ref.get("kind", ""), doc["metadata"].get("namespace"),
                              ref.get("name", "")))
            if owner is None:
                raise FixtureError(fixture.source, index,
                                   f"{kind.kind} {doc['metadata']['name']}: ownerReference "
                                   f"{ref.get('kind')}/{ref.get('name')} not in the fixture")
            ref["uid"] = owner["metadata"]["uid"]
            ref.setdefault("apiVersion", owner["apiVersion"])
            ref.setdefault("controller", True)


def load(path: Path, registry: Registry) -> Fixture:
    try:
        text = path.read_text()
    except OSError as exc:
        raise FixtureError(str(path), None, f"cannot read: {exc.strerror}") from exc
    return parse(text, str(path), registry)
