"""The three patch formats of the API server: JSON merge, JSON patch, strategic merge.

Strategic merge follows the built-in types' ``patchMergeKey``/``patchStrategy`` tags for the
lists we serve: containers, env, volumes by ``name``; volumeMounts by ``mountPath``; container
ports by ``containerPort`` and Service ports by ``port``; conditions by ``type``; ownerReferences
by ``uid``.  Directives ``$patch: delete|replace|merge``, ``$setElementOrder/<list>``,
``$deleteFromPrimitiveList/<list>`` and ``$retainKeys`` behave as in kube-apiserver.  Lists with
no merge key are replaced, as for the real types.
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.kube.errors import ApiError

MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "imagePullSecrets": "name", "conditions": "type", "ownerReferences": "uid",
    "hostAliases": "ip", "topologySpreadConstraints": "topologyKey", "resourceClaims": "name",
}
MERGED_PRIMITIVE_LISTS = {"finalizers"}


def _invalid(message: str) -> ApiError:
    return ApiError(422, "Invalid", message)


# -- JSON merge patch (RFC 7386) ------------------------------------------------------------

def json_merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge(result.get(key), value)
    return result


# -- JSON patch (RFC 6902) -----------------------------------------------------------------

def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _invalid(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, list):
            try:
                node = node[int(part)]
            except (ValueError, IndexError) as exc:
                raise _invalid(f"path {path!r} does not exist") from exc
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise _invalid(f"path {path!r} does not exist")
    return node


def _get(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent, last = _parent(doc, parts, path), parts[-1]
    try:
        return parent[int(last)] if isinstance(parent, list) else parent[last]
    except (KeyError, ValueError, IndexError, TypeError) as exc:
        raise _invalid(f"path {path!r} does not exist") from exc


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    parent, last = _parent(doc, parts, path), parts[-1]
    try:
        return parent.pop(int(last)) if isinstance(parent, list) else parent.pop(last)
    except (KeyError, ValueError, IndexError) as exc:
        raise _invalid(f"unable to remove nonexistent key {path!r}") from exc


def _add(doc: Any, path: str, value: Any, replace: bool = False) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, last = _parent(doc, parts, path), parts[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if replace:
            parent[index] = value
        else:
            parent.insert(index, value)
    elif isinstance(parent, dict):
        if replace and last not in parent:
            raise _invalid(f"unable to replace nonexistent key {path!r}")
        parent[last] = value
    else:
        raise _invalid(f"path {path!r} does not exist")
    return doc


def json_patch(target: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise ApiError(400, "BadRequest", "a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ApiError(400, "BadRequest", f"invalid JSON patch operation {op!r}")
        kind, path = op["op"], op["path"]
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            doc = _add(doc, path, copy.deepcopy(op.get("value")), replace=True)
        elif kind == "move":
            doc = _add(doc, path, _remove(doc, op["from"]))
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op["from"])))
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise _invalid(f"test operation failed at {path!r}")
        else:
            raise ApiError(400, "BadRequest", f"unknown JSON patch operation {kind!r}")
    return doc


# -- strategic merge patch -----------------------------------------------------------------

def _merge_key(field: str, in_container: bool) -> str | None:
    if field == "ports":
        return "containerPort" if in_container else "port"
    return MERGE_KEYS.get(field)


def strategic_merge(target: Any, patch: Any) -> Any:
    return _merge_map(target if isinstance(target, dict) else {}, patch, in_container=False)


def _merge_map(target: dict[str, Any], patch: Any, in_container: bool) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(target)
    retain = patch.get("$retainKeys")
    orders = {k.split("/", 1)[1]: v for k, v in patch.items() if k.startswith("$setElementOrder/")}
    deletions = {k.split("/", 1)[1]: v for k, v in patch.items()
                 if k.startswith("$deleteFromPrimitiveList/")}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
            continue
        current = result.get(key)
        if isinstance(value, list):
            result[key] = _merge_list(key, current if isinstance(current, list) else [], value,
                                      in_container)
        elif isinstance(value, dict):
            merged = _merge_map(current if isinstance(current, dict) else {}, value,
                                in_container=key in ("containers", "initContainers"))
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    for key, values in deletions.items():
        if isinstance(result.get(key), list):
            result[key] = [item for item in result[key] if item not in values]
    for key, order in orders.items():
        result[key] = _apply_order(key, result.get(key) or [], order, in_container)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(field: str, current: list[Any], patch: list[Any], in_container: bool) -> list[Any]:
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [copy.deepcopy(i) for i in patch
                if not (isinstance(i, dict) and i.get("$patch") == "replace")]
    if field in MERGED_PRIMITIVE_LISTS:
        return current + [item for item in patch if item not in current]
    key = _merge_key(field, in_container)
    if key is None or not all(isinstance(item, dict) for item in patch):
        return copy.deepcopy(patch)
    result = copy.deepcopy(current)
    child_in_container = field in ("containers", "initContainers", "ephemeralContainers")
    for item in patch:
        if key not in item:
            raise _invalid(f"map in list {field!r} is missing its merge key {key!r}")
        index = next((i for i, old in enumerate(result)
                      if isinstance(old, dict) and old.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
            continue
        if index is None:
            result.append({k: v for k, v in copy.deepcopy(item).items() if k != "$patch"})
        else:
            result[index] = _merge_map(result[index], item, child_in_container)
    return result


def _apply_order(field: str, items: list[Any], order: list[Any], in_container: bool) -> list[Any]:
    key = _merge_key(field, in_container)
    if key is None:
        return items
    wanted = [entry.get(key) if isinstance(entry, dict) else entry for entry in order]
    ranked = {value: position for position, value in enumerate(wanted)}
    return sorted(items, key=lambda item: ranked.get(
        item.get(key) if isinstance(item, dict) else item, len(ranked)))
