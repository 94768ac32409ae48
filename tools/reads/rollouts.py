"""A Deployment's rollout history, as ``kubectl rollout history`` reads it.

Each revision is a ReplicaSet the Deployment owns, numbered by its
``deployment.kubernetes.io/revision`` annotation; a ReplicaSet taken up again (a rollback)
carries its new number and lists the numbers it had in ``…/revision-history``.  Its pod
template, without the ``pod-template-hash`` label the controller adds, is what the Deployment
ran at that revision.  Shared by ``rollback_deployment`` and ``recent_changes``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
HASH_LABEL = "pod-template-hash"


def deployment_path(namespace: str, name: str | None = None) -> str:
    return f"/apis/apps/v1/namespaces/{namespace}/deployments" + (f"/{name}" if name else "")


def revision_of(obj: dict[str, Any]) -> int:
    """An object's revision annotation; 0 when it has none (or not a number)."""
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, "")
    return int(value) if str(value).isdigit() else 0


def clean_template(template: dict[str, Any] | None) -> dict[str, Any]:
    """A pod template as the Deployment would carry it: without ``pod-template-hash`` (and
    without the empty maps that removing it may leave; the API server treats them as unset)."""
    clean = copy.deepcopy(template or {})
    meta = clean.get("metadata")
    if isinstance(meta, dict):
        labels = meta.get("labels")
        if isinstance(labels, dict):
            labels.pop(HASH_LABEL, None)
        for key in ("labels", "annotations"):
            if meta.get(key) == {}:
                meta.pop(key)
        if not meta:
            clean.pop("metadata")
    return clean


def images(template: dict[str, Any]) -> str:
    """``web=nginx:1.27, sidecar=…``: what a revision ran."""
    containers = (template.get("spec") or {}).get("containers") or []
    return ", ".join(f"{c.get('name')}={c.get('image')}" for c in containers) or "no containers"


@dataclass(frozen=True)
class Revision:
    number: int
    replicaset: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.replicaset["metadata"]["name"])

    @property
    def created(self) -> str:
        return str(self.replicaset["metadata"].get("creationTimestamp") or "")

    @property
    def template(self) -> dict[str, Any]:
        return clean_template((self.replicaset.get("spec") or {}).get("template"))

    @property
    def earlier(self) -> list[int]:
        """The numbers this ReplicaSet had before (it was rolled back to)."""
        listed = ((self.replicaset["metadata"].get("annotations") or {}).get(
            REVISION_HISTORY) or "").split(",")
        return [int(n) for n in listed if n.strip().isdigit()]


def owned_by(replicasets: list[dict[str, Any]], deployment: dict[str, Any]) -> list[Revision]:
    """The revisions of ``deployment`` among ``replicasets``, oldest first (ReplicaSets it
    owns without a revision annotation are left out, as kubectl does)."""
    uid = deployment["metadata"].get("uid")
    found = [Revision(revision_of(rs), rs) for rs in replicasets
             if any(ref.get("uid") == uid and ref.get("kind") == "Deployment"
                    for ref in rs["metadata"].get("ownerReferences") or [])]
    return sorted((r for r in found if r.number), key=lambda r: r.number)


def selector_query(deployment: dict[str, Any]) -> list[tuple[str, str]]:
    """A labelSelector narrowing the ReplicaSet list to the Deployment's (matchLabels)."""
    labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return [("labelSelector", ",".join(f"{k}={v}" for k, v in sorted(labels.items())))] \
        if labels else []
