"""Claims and volumes: a pending claim (and the pods it keeps from scheduling), a lost claim,
volumes of this namespace's claims that are Released or Failed.

A pod that waits for its claim is Unschedulable only because of the claim: the engine folds
that pod finding into the claim's (``claims_of`` tells which pods wait for which claims).
"""

from __future__ import annotations

from tools.analysis.findings import Finding
from tools.analysis.snapshot import Obj, Snapshot

WAIT_FOR_CONSUMER = "WaitForFirstConsumer"


def claims_of(pod: Obj) -> list[str]:
    return [str(v["persistentVolumeClaim"]["claimName"])
            for v in (pod.get("spec") or {}).get("volumes") or []
            if (v.get("persistentVolumeClaim") or {}).get("claimName")]


def _pending_fix(snapshot: Snapshot, pvc: Obj, messages: list[str]) -> str:
    spec = pvc.get("spec") or {}
    wanted = spec.get("storageClassName")
    classes = [c["metadata"]["name"] for c in snapshot["storageclasses"]]
    known = (f" (existing: {', '.join(classes)})" if classes else "")
    if wanted and (f'storageclass.storage.k8s.io "{wanted}" not found' in " ".join(messages)
                   or (snapshot.seen("storageclasses") and wanted not in classes)):
        return (f"StorageClass {wanted} does not exist: create it, or recreate the claim with "
                f"an existing storageClassName{known}")
    if wanted == "" or "no storage class is set" in " ".join(messages) or (
            not wanted and snapshot.seen("storageclasses") and classes == []):
        size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "?")
        return (f"no PersistentVolume matches the claim ({size}, "
                f"{', '.join(spec.get('accessModes') or [])}, no storage class): create one "
                f"that does, or set a storageClassName that provisions volumes{known}")
    return "check the storage class exists and can provision this size (its provisioner's " \
        "events are below)"


def pvcs(snapshot: Snapshot) -> list[Finding]:
    findings, ns = [], snapshot.namespace
    for pvc in snapshot["pvcs"]:
        name, spec = pvc["metadata"]["name"], pvc.get("spec") or {}
        phase = (pvc.get("status") or {}).get("phase")
        events = [e for e in snapshot.events_for(name)
                  if (e.get("involvedObject") or {}).get("kind") == "PersistentVolumeClaim"]
        users = [p["metadata"]["name"] for p in snapshot["pods"] if name in claims_of(p)]
        if phase == "Pending":
            if events and events[-1].get("reason") == WAIT_FOR_CONSUMER and not users:
                continue  # binds when a pod uses it: nothing is waiting
            messages = [str(e.get("message", "")) for e in events if e.get("type") == "Warning"]
            findings.append(Finding(
                "PVCPending", "critical", "PersistentVolumeClaim", ns, name,
                "the claim is not bound to a volume" + (
                    f", so {', '.join(users)} cannot be scheduled" if users else ""),
                _pending_fix(snapshot, pvc, messages),
                [f"storageClassName={spec.get('storageClassName')}",
                 *(f"{e.get('reason')}: {e.get('message')}" for e in events[-2:]),
                 *(f"pod {p} waits for claim {name}" for p in users)]))
        elif phase == "Lost":
            findings.append(Finding(
                "PVCLost", "critical", "PersistentVolumeClaim", ns, name,
                f"the claim lost its volume {spec.get('volumeName') or '?'} (it no longer "
                "exists): pods using it cannot start", "restore the PersistentVolume (same "
                "name) from its backing storage, or delete and recreate the claim (the data is "
                "gone with the volume)", ["status.phase=Lost",
                                          f"spec.volumeName={spec.get('volumeName')}",
                                          *(f"pod {p} uses it" for p in users)]))
    return findings


def volumes(snapshot: Snapshot) -> list[Finding]:
    """PVs claimed from this namespace that are Released (claim deleted) or Failed."""
    findings = []
    claims = {c["metadata"]["name"] for c in snapshot["pvcs"]}
    for pv in snapshot["pvs"]:
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        status = pv.get("status") or {}
        phase = status.get("phase")
        if ref.get("namespace") != snapshot.namespace or phase not in ("Released", "Failed"):
            continue
        name, claim = pv["metadata"]["name"], ref.get("name", "?")
        policy = (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy", "Retain")
        again = claim in claims
        cause = (f"volume {name} is Released: its claim {claim} was deleted"
                 + (" and the new claim of that name cannot bind to it" if again else "")
                 + f"; reclaimPolicy {policy} keeps it (and its data) out of use"
                 if phase == "Released" else
                 f"volume {name} Failed to be reclaimed: {status.get('message', 'no message')}")
        fix = ("to reuse it, clear its claimRef (kubectl patch pv " + name +
               " --type merge -p '{\"spec\":{\"claimRef\":null}}'); otherwise delete it and "
               "its backing storage" if phase == "Released" else
               "clean up its backing storage by hand, then delete the PersistentVolume")
        findings.append(Finding(
            "PersistentVolumeReleased" if phase == "Released" else "PersistentVolumeFailed",
            "warning", "PersistentVolume", "", name, cause, fix,
            [f"status.phase={phase}", f"claimRef {snapshot.namespace}/{claim}",
             f"reclaimPolicy={policy}"]))
    return findings
