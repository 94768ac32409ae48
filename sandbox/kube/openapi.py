"""A minimal OpenAPI v3 index, enough for kubectl's server-side field validation check.

kubectl (``--validate=strict``, the default for create/apply) reads ``/openapi/v3`` and the
group-version document, looks for the PATCH operation of the object's kind and checks that it
accepts the ``fieldValidation`` query parameter; if so it leaves validation to the server.  The
sandbox publishes exactly that much — paths, PATCH operations, the GVK extension and the
parameter — not the schemas.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sandbox.kube.resources import Registry


def _prefix(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def root(registry: Registry) -> dict[str, Any]:
    paths = {}
    for group, versions in registry.group_versions().items():
        for version in versions:
            prefix = _prefix(group, version)
            digest = hashlib.sha256(prefix.encode()).hexdigest()[:16].upper()
            paths[prefix] = {"serverRelativeURL": f"/openapi/v3/{prefix}?hash={digest}"}
    return {"paths": paths}


def group_version(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    kinds = [k for k in registry.kinds if k.group == group and k.version == version]
    if not kinds:
        return None
    paths: dict[str, Any] = {}
    parameter = {"name": "fieldValidation", "in": "query", "schema": {"type": "string",
                                                                      "uniqueItems": True}}
    for kind in kinds:
        if "patch" not in kind.verbs:
            continue
        scope = "/namespaces/{namespace}" if kind.namespaced else ""
        path = f"/{_prefix(group, version)}{scope}/{kind.plural}/{{name}}"
        paths[path] = {"patch": {
            "operationId": f"patch{kind.kind}",
            "parameters": [parameter],
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": group, "version": version,
                                                "kind": kind.kind},
            "responses": {"200": {"description": "OK"}},
        }}
    return {"openapi": "3.0.0", "info": {"title": "Hexabot sandbox", "version": "v1.33.0"},
            "paths": paths, "components": {"schemas": {}}}
