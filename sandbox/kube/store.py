"""The sandbox's object store: one revision counter, optimistic concurrency, watch fan-out.

Like etcd behind kube-apiserver, every write takes the next revision and stamps it as the
object's ``metadata.resourceVersion``; lists report the current revision.  An update whose
``resourceVersion`` is stale fails with 409 Conflict.  Everything runs on one event loop and no
method awaits, so each call is atomic.  Watchers receive ``ADDED``/``MODIFIED``/``DELETED``
events; a short history lets a watch resume from a recent resourceVersion.
"""

from __future__ import annotations

import asyncio
import copy
import re
import secrets
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.kube import defaults, errors
from sandbox.kube.resources import Kind

Obj = dict[str, Any]
Key = tuple[str, str, str | None, str]  # group, plural, namespace, name
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
HISTORY = 2000
KINDS_WITHOUT_GENERATION = {"Namespace", "Node", "Pod", "Event", "ConfigMap", "Secret",
                            "Endpoints", "ServiceAccount", "PodMetrics", "NodeMetrics"}


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Change:
    revision: int
    type: str  # ADDED | MODIFIED | DELETED
    kind: Kind
    obj: Obj
    old: Obj | None = None


@dataclass
class Watcher:
    kind: Kind
    namespace: str | None
    queue: asyncio.Queue[Change] = field(default_factory=asyncio.Queue)


class Store:
    def __init__(self) -> None:
        self._objects: dict[Key, Obj] = {}
        self.revision = 1
        self._history: deque[Change] = deque(maxlen=HISTORY)
        self._watchers: list[Watcher] = []
        self.listeners: list[Callable[[Change], None]] = []

    # -- reads ---------------------------------------------------------------------------
    @staticmethod
    def key(kind: Kind, namespace: str | None, name: str) -> Key:
        return (kind.group, kind.plural, namespace if kind.namespaced else None, name)

    def peek(self, kind: Kind, namespace: str | None, name: str) -> Obj | None:
        """The stored object itself (no copy): for controllers and RBAC, never to hand out."""
        return self._objects.get(self.key(kind, namespace, name))

    def get(self, kind: Kind, namespace: str | None, name: str) -> Obj:
        obj = self.peek(kind, namespace, name)
        if obj is None:
            raise errors.not_found(kind, name)
        return copy.deepcopy(obj)

    def iter(self, kind: Kind, namespace: str | None = None) -> Iterator[Obj]:
        """Stored objects of a kind (optionally one namespace), in name order, uncopied."""
        keys = sorted(k for k in self._objects
                      if k[0] == kind.group and k[1] == kind.plural
                      and (namespace is None or k[2] == namespace))
        for key in keys:
            yield self._objects[key]

    # -- writes --------------------------------------------------------------------------
    def _next(self) -> str:
        self.revision += 1
        return str(self.revision)

    def _emit(self, change: Change) -> None:
        self._history.append(change)
        for watcher in self._watchers:
            if watcher.kind == change.kind and watcher.namespace in (
                None, change.obj.get("metadata", {}).get("namespace")
            ):
                watcher.queue.put_nowait(change)
        for listener in self.listeners:
            listener(change)

    def _validate_name(self, kind: Kind, name: Any) -> None:
        if not isinstance(name, str) or not name:
            raise errors.invalid(kind, "", ["metadata.name: Required value: name or generateName "
                                            "is required"])
        if len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
            raise errors.invalid(kind, name, [
                f'metadata.name: Invalid value: "{name}": a lowercase RFC 1123 subdomain must '
                "consist of lower case alphanumeric characters, '-' or '.', and must start and "
                "end with an alphanumeric character"])

    def create(self, kind: Kind, obj: Obj, namespace: str | None = None,
               keep_status: bool = True) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
        self._validate_name(kind, meta.get("name"))
        if kind.namespaced:
            meta["namespace"] = namespace or meta.get("namespace") or "default"
        else:
            meta.pop("namespace", None)
        if self.key(kind, meta.get("namespace"), meta["name"]) in self._objects:
            raise errors.already_exists(kind, meta["name"])
        obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
        defaults.apply(kind.kind, obj)
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", now_iso())
        if kind.kind not in KINDS_WITHOUT_GENERATION:
            meta.setdefault("generation", 1)
        if not keep_status:
            obj.pop("status", None)
        meta.pop("resourceVersion", None)
        meta["resourceVersion"] = self._next()
        self._objects[self.key(kind, meta.get("namespace"), meta["name"])] = obj
        self._emit(Change(self.revision, "ADDED", kind, copy.deepcopy(obj)))
        return copy.deepcopy(obj)

    def update(self, kind: Kind, obj: Obj, *, check_version: bool = True) -> Obj:
        """Replace an object; a given ``metadata.resourceVersion`` must be the current one."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        name, namespace = meta.get("name"), meta.get("namespace") if kind.namespaced else None
        key = self.key(kind, namespace, str(name))
        old = self._objects.get(key)
        if old is None:
            raise errors.not_found(kind, str(name))
        given = meta.get("resourceVersion")
        if check_version and given and given != old["metadata"]["resourceVersion"]:
            raise errors.conflict(kind, str(name))
        for immutable in ("uid", "creationTimestamp", "namespace", "name"):
            if immutable in old["metadata"]:
                meta[immutable] = old["metadata"][immutable]
        obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
        defaults.apply(kind.kind, obj)
        meta["resourceVersion"] = old["metadata"]["resourceVersion"]
        if "generation" in old["metadata"]:
            meta["generation"] = old["metadata"]["generation"]
        if obj == old:  # a no-op write keeps its resourceVersion, as on a real server
            return copy.deepcopy(old)
        if kind.kind not in KINDS_WITHOUT_GENERATION and obj.get("spec") != old.get("spec"):
            meta["generation"] = old["metadata"].get("generation", 1) + 1
        meta["resourceVersion"] = self._next()
        self._objects[key] = obj
        self._emit(Change(self.revision, "MODIFIED", kind, copy.deepcopy(obj), old))
        return copy.deepcopy(obj)

    def delete(self, kind: Kind, namespace: str | None, name: str) -> Obj:
        key = self.key(kind, namespace, name)
        obj = self._objects.pop(key, None)
        if obj is None:
            raise errors.not_found(kind, name)
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = self._next()
        self._emit(Change(self.revision, "DELETED", kind, copy.deepcopy(obj)))
        return obj

    # -- watch ---------------------------------------------------------------------------
    def watch(self, kind: Kind, namespace: str | None) -> Watcher:
        watcher = Watcher(kind=kind, namespace=namespace)
        self._watchers.append(watcher)
        return watcher

    def watching(self, plural: str, namespace: str | None) -> int:
        """How many watch streams are open on ``plural`` in ``namespace`` (for tests that must
        act only once a client is listening)."""
        return sum(1 for w in self._watchers
                   if w.kind.plural == plural and w.namespace == namespace)

    def unwatch(self, watcher: Watcher) -> None:
        if watcher in self._watchers:
            self._watchers.remove(watcher)

    def history_since(self, revision: int) -> list[Change] | None:
        """Changes after ``revision``, or None when the history no longer reaches back."""
        if revision >= self.revision:
            return []
        if self._history and self._history[0].revision > revision + 1:
            return None
        return [change for change in self._history if change.revision > revision]
