"""Controller reactions: deployments roll out ReplicaSets, ReplicaSets keep their pods."""

from __future__ import annotations

import copy
import uuid

from bot.drills.kubernetes.cluster import Cluster
from bot.drills.kubernetes.objects import Obj, owner, suffix, timestamp
from bot.drills.kubernetes.pods import PodRecord
from bot.drills.kubernetes.workloads import REVISION, plain_template, replicaset, revision


def event(cluster: Cluster, involved: Obj, kind: str, reason: str, message: str, at: float) -> None:
    """Record an event the way a controller would emit it."""
    meta = involved["metadata"]
    ns = meta.get("namespace", "default")
    cluster.record_event(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta['name']}.{uuid.uuid4().hex[:16]}",
                "namespace": ns,
                "uid": str(uuid.uuid4()),
                "creationTimestamp": timestamp(at),
            },
            "involvedObject": {
                "apiVersion": involved.get("apiVersion", "v1"),
                "kind": involved.get("kind", ""),
                "name": meta["name"],
                "namespace": ns,
                "uid": meta.get("uid", ""),
            },
            "reason": reason,
            "message": message,
            "type": "Normal",
            "count": 1,
            "firstTimestamp": timestamp(at),
            "lastTimestamp": timestamp(at),
            "source": {"component": kind},
        }
    )


def owned_by(cluster: Cluster, resource: str, ns: str, uid: str) -> list[Obj]:
    return [
        o
        for o in cluster.stored(resource, ns)
        if any(ref["uid"] == uid for ref in o["metadata"].get("ownerReferences", []))
    ]


def rs_pods(cluster: Cluster, rs: Obj) -> list[PodRecord]:
    uid = rs["metadata"]["uid"]
    return [
        p for p in cluster.pods_in(rs["metadata"]["namespace"]) if (p.owner or {}).get("uid") == uid
    ]


def sync_deployment(cluster: Cluster, dep: Obj, at: float) -> Obj:
    """Make the RS matching the template the newest revision and give it all replicas."""
    ns, uid = dep["metadata"]["namespace"], dep["metadata"]["uid"]
    sets = owned_by(cluster, "replicasets", ns, uid)
    template = dep["spec"]["template"]
    newest = max((revision(rs) for rs in sets), default=0)
    current = next((rs for rs in sets if plain_template(rs) == template), None)
    if current is None:
        current = replicaset(dep, template, newest + 1, at)
        cluster.put("replicasets", current)
    elif revision(current) != newest:
        current["metadata"]["annotations"][REVISION] = str(newest + 1)
    dep["metadata"].setdefault("annotations", {})[REVISION] = str(revision(current))
    for rs in owned_by(cluster, "replicasets", ns, uid):
        want = dep["spec"]["replicas"] if rs is current else 0
        if rs["spec"]["replicas"] != want:
            was = rs["spec"]["replicas"]
            verb = "up" if want > was else "down"
            rs["spec"]["replicas"] = want
            rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = str(
                dep["spec"]["replicas"]
            )
            rs["metadata"]["generation"] += 1
            # The real deployment controller's words since v1.28.
            message = f"Scaled {verb} replica set {rs['metadata']['name']} from {was} to {want}"
            event(cluster, dep, "deployment-controller", "ScalingReplicaSet", message, at)
            cluster.put("replicasets", rs)
        sync_replicaset(cluster, rs, at)
    return cluster.put("deployments", dep)


def sync_replicaset(cluster: Cluster, rs: Obj, at: float) -> None:
    """Create or delete pods until the RS has spec.replicas of them."""
    pods = sorted(rs_pods(cluster, rs), key=lambda p: p.created)
    want = rs["spec"]["replicas"]
    for pod in pods[want:]:
        del cluster.pods[(pod.namespace, pod.name)]
        message = f"Deleted pod: {pod.name}"
        event(cluster, rs, "replicaset-controller", "SuccessfulDelete", message, at)
    for _ in range(want - len(pods)):
        pod = _new_pod(cluster, rs, at)
        event(
            cluster, rs, "replicaset-controller", "SuccessfulCreate", f"Created pod: {pod.name}", at
        )


def _new_pod(cluster: Cluster, rs: Obj, at: float) -> PodRecord:
    nodes = cluster.scenario.nodes.names
    index = len(cluster.pods) % len(nodes)
    ns = rs["metadata"]["namespace"]
    template = rs["spec"]["template"]
    app = cluster.scenario.service.name
    labels = dict(template["metadata"]["labels"])
    # Before the drill's config map is stored, pods started with the scenario's config.
    config = cluster.find("configmaps", ns, f"{app}-config")
    pod = PodRecord(
        name=f"{rs['metadata']['name']}-{suffix()}",
        namespace=ns,
        labels=labels,
        spec=copy.deepcopy(template["spec"]),
        created=at,
        node=nodes[index],
        ip=cluster.next_ip(index),
        role="app" if labels.get("app") == app else "ingress",
        owner=owner("ReplicaSet", "apps/v1", rs),
        config=dict(config["data"]) if config else dict(cluster.scenario.service.config),
    )
    cluster.add_pod(pod)
    return pod


def dependency_pod(cluster: Cluster, name: str, at: float, crash_log: list[str]) -> PodRecord:
    """The single pod `<name>-0` of a dependency's StatefulSet."""
    spec = cluster.scenario.dependencies[name]
    ns = cluster.scenario.service.namespace
    index = sorted(cluster.scenario.dependencies).index(name) % len(cluster.scenario.nodes.names)
    container = {
        "name": name,
        "image": spec.image,
        "ports": [{"containerPort": spec.port, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
    }
    stateful_set = {"metadata": {"name": name, "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, name))}}
    pod = PodRecord(
        name=f"{name}-0",
        namespace=ns,
        labels={"app": name, "statefulset.kubernetes.io/pod-name": f"{name}-0"},
        spec={"containers": [container], "hostname": f"{name}-0"},
        created=at,
        node=cluster.scenario.nodes.names[index],
        ip=cluster.next_ip(index),
        role="dependency",
        owner=owner("StatefulSet", "apps/v1", stateful_set),
        crash_log=list(crash_log),
    )
    cluster.add_pod(pod)
    return pod


def delete_pod(cluster: Cluster, pod: PodRecord, at: float) -> None:
    """Delete a pod; its controller replaces it (a StatefulSet reuses the name, healthy)."""
    del cluster.pods[(pod.namespace, pod.name)]
    obj = cluster.render(pod)
    event(cluster, obj, "kubelet", "Killing", f"Stopping container {pod.container['name']}", at)
    if pod.role == "dependency":
        dependency_pod(cluster, pod.labels["app"], at, [])
        return
    rs = next(
        (
            o
            for o in cluster.stored("replicasets", pod.namespace)
            if pod.owner and o["metadata"]["uid"] == pod.owner["uid"]
        ),
        None,
    )
    if rs is not None:
        sync_replicaset(cluster, rs, at)
