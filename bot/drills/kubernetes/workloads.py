"""Deployments, their ReplicaSets and Scale objects, with status derived from their pods."""

from __future__ import annotations

import copy
from typing import Any

from bot.drills.kubernetes.defaults import defaulted_template
from bot.drills.kubernetes.objects import Obj, meta, owner, template_hash, timestamp

REVISION = "deployment.kubernetes.io/revision"
HASH = "pod-template-hash"


def deployment(name: str, ns: str, replicas: int, template: Obj, created: float) -> Obj:
    metadata = meta(name, ns, created, {"app": name})
    metadata["generation"] = 1
    metadata["annotations"] = {REVISION: "1"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": copy.deepcopy(template),
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
    }


def pod_template(app: str, containers: list[Obj]) -> Obj:
    return defaulted_template(
        {"metadata": {"labels": {"app": app}}, "spec": {"containers": containers}}
    )


def replicaset(dep: Obj, template: Obj, revision: int, created: float) -> Obj:
    """A ReplicaSet owned by `dep` running `template`, named after the template's hash."""
    digest = template_hash(template)
    rs_template = copy.deepcopy(template)
    rs_template.setdefault("metadata", {}).setdefault("labels", {})[HASH] = digest
    labels = dict(rs_template["metadata"]["labels"])
    name = f"{dep['metadata']['name']}-{digest}"
    metadata = meta(name, dep["metadata"]["namespace"], created, labels)
    metadata["generation"] = 1
    metadata["annotations"] = {
        REVISION: str(revision),
        "deployment.kubernetes.io/desired-replicas": str(dep["spec"]["replicas"]),
        "deployment.kubernetes.io/max-replicas": str(dep["spec"]["replicas"] + 1),
    }
    metadata["ownerReferences"] = [owner("Deployment", "apps/v1", dep)]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": metadata,
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {k: labels[k] for k in ("app", HASH) if k in labels}},
            "template": rs_template,
        },
    }


def plain_template(rs: Obj) -> Obj:
    """The RS's template without its pod-template-hash label, comparable to a deployment's."""
    template: Obj = copy.deepcopy(rs["spec"]["template"])
    labels = template.get("metadata", {}).get("labels", {})
    labels.pop(HASH, None)
    return template


def revision(obj: Obj) -> int:
    return int(obj["metadata"].get("annotations", {}).get(REVISION, "0"))


def with_rs_status(rs: Obj, pods: list[tuple[Obj, bool]]) -> Obj:
    obj = copy.deepcopy(rs)
    ready = sum(1 for _, ok in pods if ok)
    obj["status"] = {
        "replicas": len(pods),
        "fullyLabeledReplicas": len(pods),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": rs["metadata"]["generation"],
    }
    return obj


def with_deployment_status(
    dep: Obj, pods: list[tuple[Obj, bool]], newest: tuple[str, int], now: float
) -> Obj:
    """Status as the deployment controller would report it, from the pods' readiness."""
    obj = copy.deepcopy(dep)
    new_rs, updated = newest
    want = dep["spec"]["replicas"]
    ready = sum(1 for _, ok in pods if ok)
    available = ready >= want - (want // 4)
    complete = updated >= want and ready >= want and len(pods) == want
    obj["status"] = {
        "observedGeneration": dep["metadata"]["generation"],
        "replicas": len(pods),
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "unavailableReplicas": max(0, want - ready),
        # A pointer on the real type, so it shows even at zero.
        "terminatingReplicas": sum(1 for p, _ in pods if p["metadata"].get("deletionTimestamp")),
        "conditions": [
            _condition(
                "Available",
                available,
                "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                "Deployment has minimum availability."
                if available
                else "Deployment does not have minimum availability.",
                now,
            ),
            _condition(
                "Progressing",
                True,
                "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                f'ReplicaSet "{new_rs}" is progressing.',
                now,
            ),
        ],
    }
    if ready == 0:
        obj["status"].pop("readyReplicas")
        obj["status"].pop("availableReplicas")
    return obj


def _condition(kind: str, ok: bool, reason: str, message: str, now: float) -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message,
        "lastUpdateTime": timestamp(now),
        "lastTransitionTime": timestamp(now),
    }


def scale(dep: Obj, current: int) -> Obj:
    """The autoscaling/v1 Scale subresource of a deployment."""
    labels = dep["spec"]["selector"]["matchLabels"]
    metadata = {
        k: dep["metadata"][k]
        for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        if k in dep["metadata"]
    }
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": dep["spec"]["replicas"]},
        "status": {
            "replicas": current,
            "selector": ",".join(f"{k}={v}" for k, v in labels.items()),
        },
    }
