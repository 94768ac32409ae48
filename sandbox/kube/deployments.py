"""The Deployment controller: one ReplicaSet per pod template, numbered revisions, status.

As kube-controller-manager does it (``pkg/controller/deployment``):

- The ReplicaSet whose template equals the Deployment's (ignoring ``pod-template-hash``) is the
  new one; when none does, one is created.  Old ReplicaSets are scaled to 0 (at once: the
  sandbox does not pace a rolling update).
- Revisions: the new ReplicaSet's ``deployment.kubernetes.io/revision`` becomes one more than
  the highest revision of the old ones.  An old ReplicaSet taken up again (a rollback, or any
  change back to an earlier template) gets that new number, and the number it had is appended
  to its ``deployment.kubernetes.io/revision-history``.  The Deployment carries the revision of
  its new ReplicaSet.  The Deployment's own annotations are copied onto its new ReplicaSet,
  except those the controller owns (so ``kubectl rollout history`` shows ``change-cause``).
- Status: replicas counted over the ReplicaSets, ``Available`` and ``Progressing``.

Old ReplicaSets beyond ``revisionHistoryLimit`` are kept (not cleaned up).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from sandbox.kube.cluster import Cluster
from sandbox.kube.store import Obj, now_iso
from sandbox.kube.workloads import HASH_LABEL, owner_ref, template_hash

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
# Annotations the controller never copies from a Deployment to its ReplicaSets.
NOT_COPIED = frozenset({"kubectl.kubernetes.io/last-applied-configuration", REVISION,
                        REVISION_HISTORY, "deployment.kubernetes.io/desired-replicas",
                        "deployment.kubernetes.io/max-replicas",
                        "deprecated.deployment.rollback.to"})
MAX_HISTORY_CHARS = 2000  # kube-controller-manager's --deployment-controller revision history

Event = Callable[[Obj, str, str], object]


def revision(obj: Obj) -> int:
    """An object's revision annotation (0 when missing or not a number)."""
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, "")
    try:
        return int(value)
    except ValueError:
        return 0


def _history(annotations: dict[str, str], old: str) -> None:
    """Append ``old`` to the revision history, dropping the oldest past the length limit."""
    listed = [r for r in annotations.get(REVISION_HISTORY, "").split(",") if r]
    total = sum(len(r) + 1 for r in listed) + len(old)
    while listed and total > MAX_HISTORY_CHARS:
        total -= len(listed.pop(0)) + 1
    if total <= MAX_HISTORY_CHARS:
        annotations[REVISION_HISTORY] = ",".join([*listed, old])


def new_replicaset_annotations(deployment: Obj, rs: Obj, number: int, existed: bool) -> bool:
    """Set the new ReplicaSet's annotations (in place); whether any changed."""
    annotations = rs.setdefault("metadata", {}).setdefault("annotations", {})
    before = dict(annotations)
    for key, value in ((deployment.get("metadata") or {}).get("annotations") or {}).items():
        if key not in NOT_COPIED:
            annotations[key] = value
    had = annotations.get(REVISION, "")
    if revision(rs) < number:
        annotations[REVISION] = str(number)
        if had and existed:
            _history(annotations, had)
    return annotations != before


def seed_revisions(cluster: Cluster) -> None:
    """What the controller would already have written on seeded Deployments: their new
    ReplicaSet's revision (the Deployment's own, else one more than the others') and the
    Deployment's revision annotation."""
    store = cluster.store
    deployments = cluster.registry.require("apps", "v1", "deployments")
    replicasets = cluster.registry.require("apps", "v1", "replicasets")
    for deployment in list(store.iter(deployments)):
        owned = cluster.owned_by(replicasets, deployment)
        wanted = template_hash(deployment["spec"]["template"])
        current = next((rs for rs in owned
                        if template_hash(rs["spec"]["template"]) == wanted), None)
        if current is None:
            continue
        if not revision(current):
            number = revision(deployment) or 1 + max((revision(rs) for rs in owned), default=0)
            current["metadata"].setdefault("annotations", {})[REVISION] = str(number)
            store.update(replicasets, current, check_version=False)
        if revision(deployment) != revision(current):
            deployment = copy.deepcopy(deployment)
            deployment["metadata"].setdefault("annotations", {})[REVISION] = str(
                revision(current))
            store.update(deployments, deployment, check_version=False)


class DeploymentController:
    def __init__(self, cluster: Cluster, event: Event) -> None:
        self.cluster = cluster
        self.event = event
        self.deployments = cluster.registry.require("apps", "v1", "deployments")
        self.replicasets = cluster.registry.require("apps", "v1", "replicasets")

    def reconcile(self, deployment: Obj) -> None:
        wanted = (deployment.get("spec") or {}).get("replicas", 1)
        template = deployment["spec"]["template"]
        current_hash = template_hash(template)
        owned = self.cluster.owned_by(self.replicasets, deployment)
        current = next((rs for rs in owned
                        if template_hash(rs["spec"]["template"]) == current_hash), None)
        number = 1 + max((revision(rs) for rs in owned if rs is not current), default=0)
        name = deployment["metadata"]["name"]
        if current is None:
            current = self._create(deployment, current_hash, wanted, number)
        else:
            before = current["spec"].get("replicas", 1)
            current["spec"]["replicas"] = wanted
            annotated = new_replicaset_annotations(deployment, current, number, existed=True)
            if before != wanted or annotated:
                self.cluster.store.update(self.replicasets, current, check_version=False)
            if before != wanted:
                verb = "up" if wanted > before else "down"
                self.event(deployment, "ScalingReplicaSet",
                           f"Scaled {verb} replica set {current['metadata']['name']} from "
                           f"{before} to {wanted}")
        for old in owned:
            if old["metadata"]["uid"] != current["metadata"]["uid"] and old["spec"].get(
                    "replicas", 0):
                before = old["spec"]["replicas"]
                old["spec"]["replicas"] = 0
                self.cluster.store.update(self.replicasets, old, check_version=False)
                self.event(deployment, "ScalingReplicaSet",
                           f"Scaled down replica set {old['metadata']['name']} from {before} "
                           "to 0")
        self.status(deployment["metadata"]["namespace"], name)

    def _create(self, deployment: Obj, current_hash: str, wanted: int, number: int) -> Obj:
        name = deployment["metadata"]["name"]
        template = copy.deepcopy(deployment["spec"]["template"])
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = current_hash
        selector = copy.deepcopy(deployment["spec"]["selector"])
        selector.setdefault("matchLabels", {})[HASH_LABEL] = current_hash
        rs_name = f"{name}-{current_hash}"
        rs: Obj = {"metadata": {"name": rs_name, "namespace": deployment["metadata"]["namespace"],
                                "labels": template["metadata"]["labels"],
                                "ownerReferences": [owner_ref(deployment)]},
                   "spec": {"replicas": wanted, "selector": selector, "template": template}}
        new_replicaset_annotations(deployment, rs, number, existed=False)
        created = self.cluster.store.create(self.replicasets, rs)
        self.event(deployment, "ScalingReplicaSet",
                   f"Scaled up replica set {rs_name} from 0 to {wanted}")
        return created

    def status(self, namespace: str, name: str) -> None:
        """Write the Deployment's status and revision from its ReplicaSets."""
        deployment = self.cluster.store.peek(self.deployments, namespace, name)
        if deployment is None:
            return
        deployment = copy.deepcopy(deployment)
        owned = self.cluster.owned_by(self.replicasets, deployment)
        current_hash = template_hash(deployment["spec"]["template"])
        total = {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0, "updatedReplicas": 0}
        for rs in owned:
            status = rs.get("status") or {}
            total["replicas"] += status.get("replicas", 0)
            total["readyReplicas"] += status.get("readyReplicas", 0)
            total["availableReplicas"] += status.get("availableReplicas", 0)
            if template_hash(rs["spec"]["template"]) == current_hash:
                total["updatedReplicas"] = status.get("replicas", 0)
                if revision(rs):
                    deployment["metadata"].setdefault("annotations", {})[REVISION] = str(
                        revision(rs))
        wanted = deployment["spec"].get("replicas", 1)
        available = total["availableReplicas"] >= wanted
        status = deployment.setdefault("status", {})
        status.update(total, observedGeneration=deployment["metadata"].get("generation", 1))
        status["unavailableReplicas"] = max(0, wanted - total["availableReplicas"])
        complete = available and total["updatedReplicas"] == wanted == total["replicas"]
        conditions: list[dict[str, Any]] = [
            c for c in status.get("conditions") or [] if c.get("type") not in (
                "Available", "Progressing")]
        conditions.append({"type": "Available", "status": "True" if available else "False",
                           "reason": "MinimumReplicasAvailable" if available
                           else "MinimumReplicasUnavailable", "lastUpdateTime": now_iso(),
                           "lastTransitionTime": now_iso()})
        conditions.append({"type": "Progressing", "status": "True",
                           "reason": "NewReplicaSetAvailable" if complete
                           else "ReplicaSetUpdated", "lastUpdateTime": now_iso(),
                           "lastTransitionTime": now_iso()})
        status["conditions"] = conditions
        self.cluster.store.update(self.deployments, deployment, check_version=False)
