"""PersistentVolumeClaims and the volumes they bind, from the scenario's `volumes`."""

from __future__ import annotations

import uuid

from bot.drills.kubernetes.objects import Obj, meta
from bot.drills.kubernetes.scenario import Scenario, VolumeSpec

_ACCESS = ["ReadWriteOnce"]


def volume_name(ns: str, claim: str) -> str:
    """A stable `pvc-<uid>` name, as a dynamic provisioner would give the claim's volume."""
    return f"pvc-{uuid.uuid5(uuid.NAMESPACE_URL, f'sandbox/{ns}/{claim}')}"


def _claim(name: str, ns: str, spec: VolumeSpec, app: str, created: float) -> Obj:
    claim: Obj = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta(name, ns, created, {"app": app}),
        "spec": {
            "accessModes": list(_ACCESS),
            "resources": {"requests": {"storage": spec.capacity}},
            "storageClassName": spec.storage_class,
            "volumeMode": "Filesystem",
        },
        "status": {"phase": spec.phase},
    }
    if spec.phase != "Pending":
        claim["spec"]["volumeName"] = volume_name(ns, name)
    if spec.phase == "Bound":
        claim["status"].update(accessModes=list(_ACCESS), capacity={"storage": spec.capacity})
    return claim


def _volume(claim: Obj, spec: VolumeSpec, created: float) -> Obj:
    name = claim["spec"]["volumeName"]
    ref = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "name": claim["metadata"]["name"],
        "namespace": claim["metadata"]["namespace"],
        "uid": claim["metadata"]["uid"],
    }
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": meta(name, None, created),
        "spec": {
            "capacity": {"storage": spec.capacity},
            "accessModes": list(_ACCESS),
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": spec.storage_class,
            "volumeMode": "Filesystem",
            "claimRef": ref,
            "hostPath": {"path": f"/var/lib/sandbox/{name}", "type": "DirectoryOrCreate"},
        },
        "status": {"phase": "Bound"},
    }


def volume_objects(scenario: Scenario, created: float) -> list[tuple[str, Obj]]:
    """(resource, object) of every claim and of the volume each Bound claim holds."""
    ns = scenario.service.namespace
    found: list[tuple[str, Obj]] = []
    for name, spec in scenario.volumes.items():
        claim = _claim(name, ns, spec, spec.pod or scenario.service.name, created)
        found.append(("persistentvolumeclaims", claim))
        if spec.phase == "Bound":
            found.append(("persistentvolumes", _volume(claim, spec, created)))
    return found


def mounted(scenario: Scenario, app: str) -> list[VolumeSpec]:
    """The volumes the pods of `app` (the service or a dependency) mount."""
    return [v for v in scenario.volumes.values() if (v.pod or scenario.service.name) == app]
