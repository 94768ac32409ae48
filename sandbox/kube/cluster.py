"""The sandbox cluster's verbs, after authentication and authorisation have passed.

:class:`Cluster` owns the store, the users, pod logs, declared image behaviours
(``cluster.images``) and the controllers, and implements what each verb does to objects: list
(selectors, paging), get, create, update, patch (three formats plus server-side apply), delete
(with garbage collection), the ``scale`` and ``status`` subresources, and ``pods/log``.
The HTTP layer (``http.py``) decides who may call what.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import yaml

from sandbox.kube import defaults, errors, managed, patch, validation
from sandbox.kube.fixture import Fixture, FixtureError
from sandbox.kube.images import Images
from sandbox.kube.resources import Kind, Registry
from sandbox.kube.selectors import field_matcher, label_matcher
from sandbox.kube.store import Obj, Store, now_iso

PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+cbor": "unsupported",
}
BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public")


class Cluster:
    def __init__(self, registry: Registry | None = None) -> None:
        self.registry = registry or Registry()
        self.store = Store()
        self.users: dict[str, tuple[str, tuple[str, ...]]] = {}  # token -> (name, groups)
        self.logs: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
        self.images = Images()  # how declared images behave when a container starts
        self.namespaces = self.registry.require("", "v1", "namespaces")
        self.pods = self.registry.require("", "v1", "pods")

    # -- seeding -------------------------------------------------------------------------
    def seed(self, fixture: Fixture) -> None:
        for name in BUILTIN_NAMESPACES:
            if self.store.peek(self.namespaces, None, name) is None:
                self.store.create(self.namespaces, {"metadata": {"name": name},
                                                    "status": {"phase": "Active"}})
        ordered = sorted(fixture.objects, key=lambda pair: pair[0].kind != "Namespace")
        declared = {doc["metadata"]["name"] for kind, doc in ordered if kind.kind == "Namespace"}
        for index, (kind, doc) in enumerate(ordered):
            namespace = doc["metadata"].get("namespace")
            if kind.namespaced and namespace not in declared | set(BUILTIN_NAMESPACES):
                raise FixtureError(fixture.source, index,
                                   f"{kind.kind} {namespace}/{doc['metadata']['name']}: "
                                   f"namespace {namespace!r} is not declared in the fixture")
            if kind.kind == "Namespace":
                doc.setdefault("status", {"phase": "Active"})
            self.store.create(kind, doc, namespace)
        for user in fixture.users:
            self.users[user.token] = (user.name, user.groups)
        self.logs.update(fixture.logs)
        self.images.update(fixture.images)

    # -- reads ---------------------------------------------------------------------------
    def require_namespace(self, namespace: str | None) -> None:
        if namespace is not None and self.store.peek(self.namespaces, None, namespace) is None:
            raise errors.not_found(self.namespaces, namespace)

    def list_objects(self, kind: Kind, namespace: str | None,
                     query: dict[str, str]) -> dict[str, Any]:
        labels = label_matcher(query.get("labelSelector"))
        fields = field_matcher(query.get("fieldSelector"), kind.kind)
        # The stored objects themselves, not copies: callers serialise the list before the
        # event loop runs anything else, and copying 1,000 pods costs more than the listing.
        items = [o for o in self.store.iter(kind, namespace) if labels(o) and fields(o)]
        meta: dict[str, Any] = {"resourceVersion": str(self.store.revision)}
        start = 0
        if query.get("continue"):
            try:
                after = json.loads(base64.urlsafe_b64decode(query["continue"]).decode())["after"]
            except (ValueError, KeyError) as exc:
                raise errors.bad_request("invalid continue token") from exc
            start = next((i + 1 for i, o in enumerate(items) if _ident(o) == after), len(items))
        limit = errors.int_param(query, "limit", 0) or 0
        page = items[start:start + limit] if limit > 0 else items[start:]
        rest = len(items) - start - len(page)
        if limit > 0 and rest > 0:
            token = json.dumps({"after": _ident(page[-1])}).encode()
            meta["continue"] = base64.urlsafe_b64encode(token).decode()
            meta["remainingItemCount"] = rest
        return {"kind": f"{kind.kind}List", "apiVersion": kind.api_version, "metadata": meta,
                "items": page}

    def get(self, kind: Kind, namespace: str | None, name: str) -> Obj:
        return self.store.get(kind, namespace, name)

    # -- writes --------------------------------------------------------------------------
    def create(self, kind: Kind, namespace: str | None, body: Any, dry_run: bool,
               manager: str = "", operation: str = "Update") -> Obj:
        """``manager`` (a request's field manager) is recorded in managedFields; the
        sandbox's own writes (seeding) pass none."""
        obj = self._check_body(kind, namespace, body)
        self.require_namespace(namespace)
        validation.validate(kind, obj)
        if manager:
            obj["apiVersion"] = kind.api_version
            managed.record(None, obj, manager, operation=operation,
                           applied=body if operation == "Apply" else None)
        if dry_run:
            if self.store.peek(kind, namespace, obj["metadata"].get("name", "")) is not None:
                raise errors.already_exists(kind, obj["metadata"]["name"])
            return obj
        return self.store.create(kind, obj, namespace, keep_status=kind.kind in (
            "Event", "Namespace", "Node", "PodMetrics", "NodeMetrics"))

    def update(self, kind: Kind, namespace: str | None, name: str, body: Any,
               subresource: str, dry_run: bool, manager: str = "") -> Obj:
        obj = self._check_body(kind, namespace, body)
        if obj["metadata"].get("name") != name:
            raise errors.bad_request(
                f'the name of the object ({obj["metadata"].get("name")}) does not match the '
                f"name on the URL ({name})")
        return self._replace(kind, self.store.get(kind, namespace, name), obj, subresource,
                             dry_run, manager)

    def _replace(self, kind: Kind, current: Obj, new: Obj, subresource: str,
                 dry_run: bool, manager: str = "", applied: Obj | None = None) -> Obj:
        """Validate ``new`` (status handled per subresource), record ``manager``'s write in
        managedFields and store it unless dry-run."""
        merged = self._split_status(kind, current, new, subresource)
        validation.validate(kind, merged)
        if manager:
            merged["apiVersion"] = kind.api_version
            defaults.apply(kind.kind, merged)
            managed.record(current, merged, manager, subresource=subresource,
                           operation="Apply" if applied is not None else "Update",
                           applied=applied)
        if dry_run:
            return merged
        return self.store.update(kind, merged)

    def patch(self, kind: Kind, namespace: str | None, name: str, content_type: str,
              raw: bytes, subresource: str, dry_run: bool, manager: str = "") -> Obj:
        mode = PATCH_TYPES.get(content_type)
        if mode is None or mode == "unsupported":
            raise errors.unsupported_media(content_type)
        body = _decode(raw, yaml_ok=mode == "apply")
        if mode != "json" and not isinstance(body, dict):
            raise errors.bad_request(f"a {mode} patch must be a JSON/YAML object")
        current = self.store.peek(kind, namespace, name)
        if current is None:
            if mode != "apply":
                raise errors.not_found(kind, name)
            body.setdefault("metadata", {}).setdefault("name", name)
            return self.create(kind, namespace, body, dry_run, manager, "Apply")
        current = copy.deepcopy(current)
        if mode == "merge":
            result = patch.json_merge(current, body)
        elif mode == "json":
            result = patch.json_patch(current, body)
        else:  # strategic, and apply approximated as a strategic merge of the applied config
            result = patch.strategic_merge(current, body)
        if not isinstance(result, dict):
            raise errors.bad_request("the patch did not produce an object")
        wanted_version = (body.get("metadata") or {}).get("resourceVersion") \
            if isinstance(body, dict) else None
        result.setdefault("metadata", {})["resourceVersion"] = (
            wanted_version or current["metadata"]["resourceVersion"])
        return self._replace(kind, current, result, subresource, dry_run, manager,
                             body if mode == "apply" else None)

    def delete(self, kind: Kind, namespace: str | None, name: str, dry_run: bool,
               body: Any = None) -> Obj:
        current = self.store.get(kind, namespace, name)
        preconditions = (body or {}).get("preconditions") or {} if isinstance(body, dict) else {}
        if preconditions.get("resourceVersion") not in (
                None, current["metadata"]["resourceVersion"]):
            raise errors.conflict(kind, name)
        if preconditions.get("uid") not in (None, current["metadata"]["uid"]):
            raise errors.conflict(kind, name)
        if dry_run:
            return current
        deleted = self.store.delete(kind, namespace, name)
        deleted["metadata"]["deletionTimestamp"] = now_iso()
        return deleted

    # -- scale ---------------------------------------------------------------------------
    def get_scale(self, kind: Kind, namespace: str | None, name: str) -> Obj:
        obj = self.store.get(kind, namespace, name)
        selector = (obj.get("spec") or {}).get("selector") or {}
        return {
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: obj["metadata"][k] for k in (
                "name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in obj["metadata"]},
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                       "selector": ",".join(f"{k}={v}" for k, v in (
                           selector.get("matchLabels") or {}).items())},
        }

    def set_scale(self, kind: Kind, namespace: str | None, name: str, scale: Any,
                  dry_run: bool, manager: str = "") -> Obj:
        if not isinstance(scale, dict):
            raise errors.bad_request("expected a Scale object")
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid(kind, name, [
                f"spec.replicas: Invalid value: {replicas!r}: must be greater than or equal to 0"])
        obj = self.store.get(kind, namespace, name)
        given = (scale.get("metadata") or {}).get("resourceVersion")
        if given and given != obj["metadata"]["resourceVersion"]:
            raise errors.conflict(kind, name)
        before = copy.deepcopy(obj)
        obj.setdefault("spec", {})["replicas"] = replicas
        if manager:
            managed.record(before, obj, manager, subresource="scale")
        if not dry_run:
            self.store.update(kind, obj)
        result = self.get_scale(kind, namespace, name)
        result["spec"]["replicas"] = replicas
        return result

    def patch_scale(self, kind: Kind, namespace: str | None, name: str, content_type: str,
                    raw: bytes, dry_run: bool, manager: str = "") -> Obj:
        mode = PATCH_TYPES.get(content_type)
        body = _decode(raw, yaml_ok=mode == "apply")
        current = self.get_scale(kind, namespace, name)
        if mode == "json":
            scale = patch.json_patch(current, body)
        elif mode in ("merge", "strategic", "apply"):
            scale = patch.json_merge(current, body)
        else:
            raise errors.unsupported_media(content_type)
        return self.set_scale(kind, namespace, name, scale, dry_run, manager)

    # -- logs ----------------------------------------------------------------------------
    def pod_log(self, namespace: str, name: str, query: dict[str, str]) -> str:
        pod = self.store.get(self.pods, namespace, name)
        containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
        container = query.get("container")
        if not container:
            if len(containers) != 1:
                raise errors.bad_request(
                    f"a container name must be specified for pod {name}, choose one of: "
                    f"[{' '.join(containers)}]")
            container = containers[0]
        if container not in containers:
            raise errors.bad_request(
                f"container {container} is not valid for pod {name}")
        texts = self.logs.get((namespace, name), {}).get(container, {})
        previous = query.get("previous") in ("true", "1", "True")
        if previous and "previous" not in texts:
            raise errors.bad_request(
                f'previous terminated container "{container}" in pod "{name}" not found')
        text = texts.get("previous" if previous else "current", "")
        lines = text.splitlines(keepends=True)
        tail = errors.int_param(query, "tailLines")
        if tail is not None:
            lines = lines[-tail:] if tail > 0 else []
        output = "".join(lines)
        limit_bytes = errors.int_param(query, "limitBytes")
        if limit_bytes is not None:
            output = output.encode()[:limit_bytes].decode(errors="ignore")
        return output

    # -- helpers -------------------------------------------------------------------------
    def _check_body(self, kind: Kind, namespace: str | None, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be a JSON or YAML object")
        obj = copy.deepcopy(body)
        if obj.get("apiVersion") not in (None, kind.api_version):
            raise errors.bad_request(
                f"the API version in the data ({obj['apiVersion']}) does not match the expected "
                f"API version ({kind.api_version})")
        if obj.get("kind") not in (None, kind.kind):
            raise errors.bad_request(
                f"the kind in the data ({obj['kind']}) does not match the expected kind "
                f"({kind.kind})")
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if kind.namespaced and meta.get("namespace") not in (None, "", namespace):
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request")
        if kind.namespaced and namespace is not None:
            meta["namespace"] = namespace
        return obj

    @staticmethod
    def _split_status(kind: Kind, current: Obj, new: Obj, subresource: str) -> Obj:
        """The main endpoint ignores status changes; the status endpoint changes only status."""
        if "status" not in kind.subresources:
            return new
        if subresource == "status":
            merged = copy.deepcopy(current)
            merged["status"] = new.get("status")
            merged["metadata"]["resourceVersion"] = new.get("metadata", {}).get(
                "resourceVersion", current["metadata"]["resourceVersion"])
            return merged
        merged = copy.deepcopy(new)
        if "status" in current:
            merged["status"] = copy.deepcopy(current["status"])
        else:
            merged.pop("status", None)
        return merged

    def owned_by(self, kind: Kind, owner: Obj) -> list[Obj]:
        """Copies of the objects of ``kind`` whose ownerReferences name ``owner``."""
        uid = owner["metadata"]["uid"]
        namespace = owner["metadata"].get("namespace")
        return [copy.deepcopy(o) for o in self.store.iter(kind, namespace)
                if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])]


def _ident(obj: Obj) -> str:
    return f"{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"


def _decode(raw: bytes, yaml_ok: bool = True) -> Any:
    try:
        return json.loads(raw) if not yaml_ok else yaml.safe_load(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise errors.bad_request(f"the request body is not valid JSON/YAML: {exc}") from exc


def decode_body(raw: bytes, content_type: str) -> Any:
    if "protobuf" in content_type:
        raise errors.unsupported_media(content_type)
    return _decode(raw, yaml_ok="yaml" in content_type)
