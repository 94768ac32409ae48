"""``metadata.managedFields``, as kube-apiserver keeps them on every write through the API.

Each entry is one (manager, operation, subresource): the fields that manager set, as FieldsV1,
and ``time``, the moment it last added or changed a field or removed one.  The manager is the
request's ``fieldManager``, else the User-Agent up to its first ``/`` (``kubectl-edit``,
``OpenAPI-Generator``).  Creates, updates and patches are ``Update`` operations: the writer
takes over the fields it changed, and other managers lose them (an entry left with no field
goes).  Server-side apply is an ``Apply``: the applier owns exactly the fields it sent.

Simplifications: lists are owned whole (no ``k:``/``v:`` element keys), status counts only on
the ``status`` subresource, and writes the sandbox's controllers make directly in the store are
not recorded.  A client sending ``managedFields: []`` clears them, as on a real server; any
other value it sends is ignored (the server keeps its own).
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.kube.store import Obj, now_iso

Path = tuple[str, ...]
# metadata the server owns: never in anyone's fieldset
SYSTEM_METADATA = frozenset({"uid", "resourceVersion", "generation", "creationTimestamp",
                             "deletionTimestamp", "managedFields", "name", "namespace",
                             "selfLink", "generateName"})
_MISSING = object()


def manager_of(field_manager: str | None, user_agent: str | None) -> str:
    """The manager a request writes as (kube-apiserver: fieldManager, else the User-Agent's
    product token, at most 128 characters)."""
    if field_manager:
        return field_manager
    return ((user_agent or "").split("/", 1)[0] or "unknown")[:128]


def _leaves(node: Any, prefix: Path, out: dict[Path, Any]) -> None:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            _leaves(value, (*prefix, str(key)), out)
    else:
        out[prefix] = node


def fields_of(obj: Obj | None, subresource: str = "") -> dict[Path, Any]:
    """The leaf fields of ``obj`` a manager can own, with their values."""
    out: dict[Path, Any] = {}
    if not obj:
        return out
    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        if (key == "status") != (subresource == "status"):
            continue
        if key == "metadata" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in SYSTEM_METADATA}
            if not value:
                continue
        _leaves(value, (key,), out)
    return out


def encode(paths: set[Path]) -> dict[str, Any]:
    """FieldsV1: ``{"f:data": {"f:KEY": {}}}``."""
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    return root


def decode(fields: Any, prefix: Path = ()) -> set[Path]:
    """The paths a FieldsV1 names (an element key, ``k:``/``v:``/``i:``, owns its list)."""
    found: set[Path] = set()
    if not isinstance(fields, dict):
        return found
    for key, child in fields.items():
        if key.startswith("f:"):
            below = decode(child, (*prefix, key[2:]))
            found |= below or {(*prefix, key[2:])}
        elif key[:2] in ("k:", "v:", "i:") and prefix:
            found.add(prefix)
    return found


def _owns(owned: set[Path], path: Path) -> bool:
    return any(path[:len(p)] == p or p[:len(path)] == path for p in owned)


def record(old: Obj | None, new: Obj, manager: str, *, operation: str = "Update",
           subresource: str = "", applied: Obj | None = None) -> None:
    """Set ``new``'s managedFields (in place) for a write of ``manager`` over ``old``.
    ``applied`` is the configuration of a server-side apply (operation ``Apply``)."""
    meta = new.setdefault("metadata", {})
    sent = meta.get("managedFields")
    entries: list[dict[str, Any]] = [] if sent == [] else copy.deepcopy(
        ((old or {}).get("metadata") or {}).get("managedFields") or [])
    before, after = fields_of(old, subresource), fields_of(new, subresource)
    changed = {p for p, v in after.items() if before.get(p, _MISSING) != v}
    removed = set(before) - set(after)
    key = (manager, operation, subresource)
    mine = next((e for e in entries if (e.get("manager"), e.get("operation"),
                                         e.get("subresource", "")) == key), None)
    owned = decode((mine or {}).get("fieldsV1"))
    if operation == "Apply" and applied is not None:
        wanted = set(fields_of(applied, subresource))
    else:
        wanted = (owned | changed) - removed
    if not changed and not removed and wanted == owned:
        _store(meta, entries)
        return
    taken = changed | removed
    kept: list[dict[str, Any]] = []
    for entry in entries:
        if entry is mine:
            if wanted:
                kept.append(_entry(new, key, wanted, now_iso() if changed or removed
                                   else str(entry.get("time") or now_iso())))
            continue
        left = {p for p in decode(entry.get("fieldsV1")) if not _owns(taken, p)}
        if left:
            kept.append({**entry, "fieldsV1": encode(left)})
    if mine is None and wanted:
        kept.append(_entry(new, key, wanted, now_iso()))
    _store(meta, kept)


def _entry(obj: Obj, key: tuple[str, str, str], paths: set[Path], time: str) -> dict[str, Any]:
    manager, operation, subresource = key
    entry = {"manager": manager, "operation": operation, "apiVersion": obj.get("apiVersion", ""),
             "time": time, "fieldsType": "FieldsV1", "fieldsV1": encode(paths)}
    if subresource:
        entry["subresource"] = subresource
    return entry


def _store(meta: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)
