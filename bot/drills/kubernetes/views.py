"""The read side: every served resource as the API server would list it now."""

from __future__ import annotations

import copy
from collections.abc import Callable

from bot.drills.kubernetes.autoscaling import hpa_view
from bot.drills.kubernetes.cluster import Cluster
from bot.drills.kubernetes.controller import owned_by, rs_pods
from bot.drills.kubernetes.objects import Obj
from bot.drills.kubernetes.observations import events, node_metrics, pod_metrics
from bot.drills.kubernetes.workloads import revision, with_deployment_status, with_rs_status

# (api group, resource) -> (kind, apiVersion, namespaced)
RESOURCES: dict[tuple[str, str], tuple[str, str, bool]] = {
    ("", "pods"): ("Pod", "v1", True),
    ("", "events"): ("Event", "v1", True),
    ("", "nodes"): ("Node", "v1", False),
    ("", "namespaces"): ("Namespace", "v1", False),
    ("", "services"): ("Service", "v1", True),
    ("", "endpoints"): ("Endpoints", "v1", True),
    ("", "configmaps"): ("ConfigMap", "v1", True),
    ("", "secrets"): ("Secret", "v1", True),
    ("", "persistentvolumeclaims"): ("PersistentVolumeClaim", "v1", True),
    ("", "persistentvolumes"): ("PersistentVolume", "v1", False),
    ("autoscaling", "horizontalpodautoscalers"): (
        "HorizontalPodAutoscaler",
        "autoscaling/v2",
        True,
    ),
    ("apps", "deployments"): ("Deployment", "apps/v1", True),
    ("apps", "replicasets"): ("ReplicaSet", "apps/v1", True),
    ("networking.k8s.io", "ingresses"): ("Ingress", "networking.k8s.io/v1", True),
    ("networking.k8s.io", "networkpolicies"): ("NetworkPolicy", "networking.k8s.io/v1", True),
    ("metrics.k8s.io", "nodes"): ("NodeMetrics", "metrics.k8s.io/v1beta1", False),
    ("metrics.k8s.io", "pods"): ("PodMetrics", "metrics.k8s.io/v1beta1", True),
}


def _pairs(pods: list[Obj]) -> list[tuple[Obj, bool]]:
    return [(p, _ready(p)) for p in pods]


def _ready(pod: Obj) -> bool:
    conditions = pod["status"].get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def replicaset_view(cluster: Cluster, rs: Obj) -> Obj:
    pods = [cluster.render(p) for p in rs_pods(cluster, rs)]
    return with_rs_status(rs, _pairs(pods))


def deployment_view(cluster: Cluster, dep: Obj) -> Obj:
    """The deployment with status counted over the pods of all its ReplicaSets."""
    sets = owned_by(cluster, "replicasets", dep["metadata"]["namespace"], dep["metadata"]["uid"])
    pods: list[Obj] = []
    current = ("", 0)
    newest = max((revision(rs) for rs in sets), default=0)
    for rs in sets:
        rendered = [cluster.render(p) for p in rs_pods(cluster, rs)]
        pods += rendered
        if revision(rs) == newest:
            current = (rs["metadata"]["name"], len(rendered))
    return with_deployment_status(dep, _pairs(pods), current, cluster.clock())


def listing(cluster: Cluster, group: str, resource: str, ns: str | None) -> list[Obj]:
    """All objects of a resource in a namespace (None: every namespace), rendered now."""
    derived: dict[tuple[str, str], Callable[[], list[Obj]]] = {
        ("", "pods"): lambda: [cluster.render(p) for p in cluster.pods_in(ns)],
        ("", "events"): lambda: events(cluster, ns),
        ("", "endpoints"): lambda: [
            cluster.endpoints_of(s) for s in cluster.stored("services", ns)
        ],
        ("apps", "deployments"): lambda: [
            deployment_view(cluster, d) for d in cluster.stored("deployments", ns)
        ],
        ("apps", "replicasets"): lambda: [
            replicaset_view(cluster, r) for r in cluster.stored("replicasets", ns)
        ],
        ("autoscaling", "horizontalpodautoscalers"): lambda: [
            hpa_view(cluster, h) for h in cluster.stored("horizontalpodautoscalers", ns)
        ],
        ("metrics.k8s.io", "nodes"): lambda: node_metrics(cluster),
        ("metrics.k8s.io", "pods"): lambda: pod_metrics(cluster, ns),
    }
    make = derived.get((group, resource))
    items = make() if make else [copy.deepcopy(o) for o in cluster.stored(resource, ns)]
    if resource == "events":
        return items
    return sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))


def one(cluster: Cluster, group: str, resource: str, ns: str | None, name: str) -> Obj | None:
    return next(
        (o for o in listing(cluster, group, resource, ns) if o["metadata"]["name"] == name), None
    )
