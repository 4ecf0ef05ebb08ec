"""A drill scenario copied onto the real control plane, so both answer the same reads and fixes.

The copy is made through the real API the way the cluster itself would have made it: the
deployment's releases in revision order (the real controller numbers them), each rolled out, then
the pods' statuses and node bindings written as a kubelet and a scheduler would. Generated names
differ (pod and ReplicaSet suffixes, cluster IPs); `masked` hides exactly those.
"""

from __future__ import annotations

import re
from typing import Any

import kubernetes

from tests.support.real_cluster import Cluster, Obj, revision, wait_for

_KEEP_META = ("name", "labels", "annotations")
# Copied as they are, by (list call, create call) on the core, networking or autoscaling API.
_PLAIN = (
    ("core", "config_map"),
    ("core", "secret"),
    ("core", "persistent_volume_claim"),
    ("networking", "network_policy"),
    ("networking", "ingress"),
    ("autoscaling", "horizontal_pod_autoscaler"),
)


def _meta(obj: Obj) -> Obj:
    return {k: v for k, v in obj["metadata"].items() if k in _KEEP_META}


def _template(rs: Obj) -> Obj:
    template: Obj = rs["spec"]["template"]
    labels = dict(template["metadata"].get("labels") or {})
    labels.pop("pod-template-hash", None)
    return {**template, "metadata": {**template["metadata"], "labels": labels}}


def mirror(
    drill: Cluster, real: Cluster, namespace: str, source: str = "default"
) -> dict[str, str]:
    """Copy `source` of the drill into `namespace` of the real cluster; drill pod -> real pod."""
    for node in drill.read(drill.core.list_node)["items"]:
        _ensure_node(real, node)
    for volume in drill.read(drill.core.list_persistent_volume)["items"]:
        _mirror_volume(real, volume, source, namespace)
    for api_name, kind in _PLAIN:
        api_d, api_r = getattr(drill, api_name), getattr(real, api_name)
        for obj in drill.read(getattr(api_d, f"list_namespaced_{kind}"), source)["items"]:
            body = {k: v for k, v in obj.items() if k not in ("metadata", "status")}
            created = real.read(
                getattr(api_r, f"create_namespaced_{kind}"),
                namespace,
                {**body, "metadata": _meta(obj)},
            )
            if obj.get("status") and kind in (
                "persistent_volume_claim",
                "horizontal_pod_autoscaler",
            ):
                real.read(
                    getattr(api_r, f"patch_namespaced_{kind}_status"),
                    created["metadata"]["name"],
                    namespace,
                    {"status": obj["status"]},
                )
    for svc in drill.read(drill.core.list_namespaced_service, source)["items"]:
        spec = {k: v for k, v in svc["spec"].items() if k not in ("clusterIP", "clusterIPs")}
        real.create(
            real.core.create_namespaced_service, namespace, {"metadata": _meta(svc), "spec": spec}
        )
    pods: dict[str, str] = {}
    for dep in drill.read(drill.apps.list_namespaced_deployment, source)["items"]:
        pods |= _mirror_deployment(drill, real, dep, source, namespace)
    for pod in drill.read(drill.core.list_namespaced_pod, source)["items"]:
        if not pod["metadata"].get("ownerReferences"):
            spec = {k: v for k, v in pod["spec"].items() if k != "serviceAccountName"}
            real.create(
                real.core.create_namespaced_pod, namespace, {"metadata": _meta(pod), "spec": spec}
            )
            _report(real, namespace, pod["metadata"]["name"], pod["status"])
            pods[pod["metadata"]["name"]] = pod["metadata"]["name"]
    for event in drill.read(drill.core.list_namespaced_event, source)["items"]:
        _mirror_event(real, event, namespace, pods)
    return pods


def _mirror_volume(real: Cluster, volume: Obj, source: str, namespace: str) -> None:
    spec = dict(volume["spec"])
    claim = dict(spec.get("claimRef") or {})
    if claim.get("namespace") == source:
        spec["claimRef"] = {k: v for k, v in claim.items() if k not in ("uid", "resourceVersion")}
        spec["claimRef"]["namespace"] = namespace
    _created(real.core.create_persistent_volume, {"metadata": _meta(volume), "spec": spec})


def _mirror_event(real: Cluster, event: Obj, namespace: str, pods: dict[str, str]) -> None:
    """What the kubelet said about a drill pod, said of its twin (the controllers speak for
    themselves on the real cluster)."""
    involved = dict(event["involvedObject"])
    if involved.get("kind") != "Pod" or involved.get("name") not in pods:
        return
    twin = pods[involved["name"]]
    involved = {"kind": "Pod", "apiVersion": "v1", "name": twin, "namespace": namespace}
    involved |= (
        {"fieldPath": event["involvedObject"]["fieldPath"]}
        if "fieldPath" in event["involvedObject"]
        else {}
    )
    body = {k: v for k, v in event.items() if k not in ("metadata", "involvedObject")}
    body["message"] = str(body.get("message", "")).replace(event["involvedObject"]["name"], twin)
    name = event["metadata"]["name"].replace(event["involvedObject"]["name"], twin)
    real.create(
        real.core.create_namespaced_event,
        namespace,
        {**body, "metadata": {"name": name}, "involvedObject": involved},
    )


def cleanup(drill: Cluster, real: Cluster) -> None:
    """Remove the cluster-scoped copies (nodes, volumes); namespaces go by themselves."""
    for volume in drill.read(drill.core.list_persistent_volume)["items"]:
        _deleted(real.core.delete_persistent_volume, volume["metadata"]["name"])
    for node in drill.read(drill.core.list_node)["items"]:
        _deleted(real.core.delete_node, node["metadata"]["name"])


def _deleted(delete: Any, name: str) -> None:
    try:
        delete(name)
    except kubernetes.client.ApiException as error:
        if error.status != 404:
            raise


def _created(create: Any, *args: Any) -> bool:
    """Create a cluster-scoped object; False when an earlier copy is already there."""
    try:
        create(*args)
    except kubernetes.client.ApiException as error:
        if error.status != 409:
            raise
        return False
    return True


def _ensure_node(real: Cluster, node: Obj) -> None:
    body = {"metadata": _meta(node), "spec": node.get("spec") or {}}
    if _created(real.core.create_node, body):
        real.core.patch_node_status(node["metadata"]["name"], {"status": node["status"]})


def _mirror_deployment(
    drill: Cluster, real: Cluster, dep: Obj, source: str, namespace: str
) -> dict[str, str]:
    name = dep["metadata"]["name"]
    selector = ",".join(f"{k}={v}" for k, v in dep["spec"]["selector"]["matchLabels"].items())
    sets = sorted(
        drill.read(drill.apps.list_namespaced_replica_set, source, label_selector=selector)[
            "items"
        ],
        key=revision,
    )
    real.deploy(
        namespace, name, [_template(rs) for rs in sets], replicas=dep["spec"]["replicas"], each=True
    )
    current = sets[-1]["metadata"]["name"]
    drilled = [p for p in drill.pods(source, selector) if _owner(p) == current]
    newest = real.replica_sets(namespace, name)[-1]["metadata"]["name"]
    wait_for(
        lambda: (
            len([p for p in real.pods(namespace, selector) if _owner(p) == newest]) >= len(drilled)
        )
    )
    ours = [p for p in real.pods(namespace, selector) if _owner(p) == newest]
    pairs: dict[str, str] = {}
    for theirs, mine in zip(
        sorted(drilled, key=lambda p: p["metadata"]["name"]),
        sorted(ours, key=lambda p: p["metadata"]["name"]),
        strict=False,
    ):
        node = theirs["spec"].get("nodeName")
        if node:
            real.create(
                real.core.create_namespaced_pod_binding,
                mine["metadata"]["name"],
                namespace,
                {
                    "metadata": {"name": mine["metadata"]["name"]},
                    "target": {"kind": "Node", "name": node},
                },
                _preload_content=False,
            )
        _report(real, namespace, mine["metadata"]["name"], theirs["status"])
        pairs[theirs["metadata"]["name"]] = mine["metadata"]["name"]
    return pairs


def _owner(pod: Obj) -> str:
    refs = pod["metadata"].get("ownerReferences") or [{}]
    return str(refs[0].get("name", ""))


def _report(real: Cluster, namespace: str, pod: str, status: Obj) -> None:
    # A merge patch replaces lists whole: the drill's pod IPs, not ours added to them.
    real.core.patch_namespaced_pod_status(
        pod, namespace, {"status": status}, _content_type="application/merge-patch+json"
    )


_GENERATED = (
    # ReplicaSet and pod names: <deployment>-<template hash>[-<suffix>].
    (
        re.compile(
            r"\b([a-z][a-z0-9-]*?)-[bcdfghjklmnpqrstvwxz2-9]{6,10}-[bcdfghjklmnpqrstvwxz2-9]{5}\b"
        ),
        r"\1-<hash>-<id>",
    ),
    (re.compile(r"\b([a-z][a-z0-9-]*?)-[bcdfghjklmnpqrstvwxz2-9]{8,10}\b"), r"\1-<hash>"),
    (re.compile(r"\b10\.96\.\d+\.\d+\b"), "<cluster-ip>"),
    (re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\b"), "<time>"),
)


def masked(value: Any, namespace: str) -> Any:
    """`value` with generated names, cluster IPs and the namespace's name made neutral."""
    if isinstance(value, str):
        text = value.replace(namespace, "default")
        for pattern, replacement in _GENERATED:
            text = pattern.sub(replacement, text)
        return text
    if isinstance(value, list):
        return [masked(v, namespace) for v in value]
    if isinstance(value, dict):
        return {k: masked(v, namespace) for k, v in value.items()}
    return value
