"""HorizontalPodAutoscalers: the stored spec, a status derived from the load, and patches."""

from __future__ import annotations

import copy
import math

from bot.drills.kubernetes.cluster import Cluster
from bot.drills.kubernetes.controller import sync_deployment
from bot.drills.kubernetes.objects import Obj, meta, timestamp
from bot.drills.kubernetes.scenario import HpaSpec

_CPU = "cpu"


def hpa(name: str, ns: str, spec: HpaSpec, created: float) -> Obj:
    target = {"type": "Utilization", "averageUtilization": spec.cpu_target_percent}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(name, ns, created, {"app": name}),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": spec.min_replicas,
            "maxReplicas": spec.max_replicas,
            "metrics": [{"type": "Resource", "resource": {"name": _CPU, "target": target}}],
        },
    }


def cpu_target(obj: Obj) -> int | None:
    for metric in obj["spec"].get("metrics") or []:
        resource = metric.get("resource") or {}
        if metric.get("type") == "Resource" and resource.get("name") == _CPU:
            value = (resource.get("target") or {}).get("averageUtilization")
            return int(value) if value is not None else None
    return None


def _condition(kind: str, ok: bool, reason: str, message: str, at: float) -> Obj:
    return {
        "type": kind,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message,
        "lastTransitionTime": timestamp(at),
    }


def hpa_view(cluster: Cluster, stored: Obj) -> Obj:
    """The HPA with the status its controller would report for the target's pods now."""
    obj = copy.deepcopy(stored)
    spec, ns, now = obj["spec"], obj["metadata"]["namespace"], cluster.clock()
    dep = cluster.find("deployments", ns, spec["scaleTargetRef"]["name"])
    current = int(dep["spec"]["replicas"]) if dep else 0
    selector = dep["spec"]["selector"]["matchLabels"] if dep else {}
    ready = [p for p in cluster.selected(ns, selector) if cluster.pod_state(p).phase == "ready"]
    low, high = int(spec.get("minReplicas") or 1), int(spec["maxReplicas"])
    load = cluster.scenario.service.hpa.cpu_percent if cluster.scenario.service.hpa else 0
    target = cpu_target(obj)
    desired = current
    status: Obj = {
        "currentReplicas": current,
        "lastScaleTime": stored["metadata"]["creationTimestamp"],
    }
    if ready and target:
        desired = math.ceil(current * load / target) if current else low
        status["currentMetrics"] = [
            {"type": "Resource", "resource": {"name": _CPU, "current": {
                "averageUtilization": load, "averageValue": f"{load * 5}m"}}}
        ]  # fmt: skip
        active = _condition(
            "ScalingActive", True, "ValidMetricFound",
            "the HPA was able to successfully calculate a replica count from cpu resource "
            "utilization (percentage of request)", now,
        )  # fmt: skip
    else:
        active = _condition(
            "ScalingActive", False, "FailedGetResourceMetric",
            "the HPA was unable to compute the replica count: failed to get cpu utilization: "
            "did not receive metrics for targeted pods (pods might be unready)", now,
        )  # fmt: skip
    desired = min(max(desired, low), high)
    limited = desired == high
    status["desiredReplicas"] = desired
    status["conditions"] = [
        _condition("AbleToScale", True, "ReadyForNewScale",
                   "recommended size matches current size", now),
        active,
        _condition(
            "ScalingLimited", limited, "TooManyReplicas" if limited else "DesiredWithinRange",
            "the desired replica count is more than the maximum replica count" if limited
            else "the desired count is within the acceptable range", now,
        ),
    ]  # fmt: skip
    obj["status"] = status
    return obj


def invalid_hpa(obj: Obj) -> str:
    """Why the API server would refuse this HPA, or ""."""
    spec = obj.get("spec") or {}
    low, high = spec.get("minReplicas", 1), spec.get("maxReplicas")
    if not isinstance(high, int) or high < 1:
        return "spec.maxReplicas: Invalid value: must be greater than or equal to 1"
    if not isinstance(low, int) or low < 1:
        return "spec.minReplicas: Invalid value: must be greater than or equal to 1"
    if low > high:
        return (
            f"spec.maxReplicas: Invalid value: {high}: must be greater than or equal to minReplicas"
        )
    target = cpu_target(obj)
    if target is not None and target < 1:
        return "spec.metrics[0].resource.target.averageUtilization: must be greater than 0"
    return ""


def commit_hpa(cluster: Cluster, ns: str, patched: Obj) -> Obj:
    """Store the new spec; as its controller would, bring the target into the new bounds."""
    stored = cluster.find("horizontalpodautoscalers", ns, patched["metadata"]["name"])
    assert stored is not None
    stored["spec"] = patched["spec"]
    cluster.put("horizontalpodautoscalers", stored)
    dep = cluster.find("deployments", ns, stored["spec"]["scaleTargetRef"]["name"])
    if dep is not None:
        low, high = stored["spec"].get("minReplicas", 1), stored["spec"]["maxReplicas"]
        wanted = min(max(int(dep["spec"]["replicas"]), low), high)
        if wanted != dep["spec"]["replicas"]:
            dep["spec"]["replicas"] = wanted
            dep["metadata"]["generation"] += 1
            sync_deployment(cluster, dep, cluster.clock())
    return hpa_view(cluster, stored)
