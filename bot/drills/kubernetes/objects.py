"""Builders of Kubernetes JSON objects, shaped like the real API server's answers."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import time
import uuid
from typing import Any

Obj = dict[str, Any]
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def timestamp(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def meta(
    name: str, namespace: str | None, created: float, labels: dict[str, str] | None = None
) -> Obj:
    """Object metadata; resourceVersion is stamped by the cluster when stored."""
    data: Obj = {"name": name, "uid": str(uuid.uuid4()), "creationTimestamp": timestamp(created)}
    if namespace is not None:
        data["namespace"] = namespace
    if labels:
        data["labels"] = dict(labels)
    return data


def owner(kind: str, api_version: str, obj: Obj) -> Obj:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def status_error(code: int, reason: str, message: str, details: Obj | None = None) -> Obj:
    """A Kubernetes Status object for a failed request."""
    status: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        status["details"] = details
    return status


def list_of(kind: str, api_version: str, items: list[Obj], version: int) -> Obj:
    return {
        "kind": f"{kind}List",
        "apiVersion": api_version,
        "metadata": {"resourceVersion": str(version)},
        "items": items,
    }


def template_hash(template: Obj) -> str:
    """A stable pod-template-hash from the template's content, in Kubernetes' alphabet."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:10])


def suffix(length: int = 5) -> str:
    return "".join(random.choice(_ALPHABET) for _ in range(length))


def node(name: str, index: int, cpu: str, memory: str, created: float) -> Obj:
    condition = {"lastHeartbeatTime": timestamp(time.time()), "status": "False"}
    pressure = [
        {**condition, "type": t, "reason": f"KubeletHasSufficient{r}", "message": m}
        for t, r, m in (
            ("MemoryPressure", "Memory", "kubelet has sufficient memory available"),
            ("DiskPressure", "Disk", "kubelet has no disk pressure"),
            ("PIDPressure", "PID", "kubelet has sufficient PID available"),
        )
    ]
    ready = {**condition, "type": "Ready", "status": "True", "reason": "KubeletReady"}
    ready["message"] = "kubelet is posting ready status"
    amounts = {"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "100Gi"}
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta(name, None, created, labels),
        "spec": {"podCIDR": f"10.244.{index}.0/24", "providerID": f"sandbox://{name}"},
        "status": {
            "capacity": amounts,
            "allocatable": dict(amounts),
            "conditions": [*pressure, ready],
            "addresses": [
                {"type": "InternalIP", "address": f"10.0.0.{10 + index}"},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "bootID": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"boot.{name}")),
                "machineID": uuid.uuid5(uuid.NAMESPACE_DNS, name).hex,
                "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"system.{name}")),
                "kernelVersion": "6.1.0-18-amd64",
                "kubeProxyVersion": "v1.37.2",
                "kubeletVersion": "v1.37.2",
                "osImage": "Ubuntu 22.04.4 LTS",
                "containerRuntimeVersion": "containerd://1.7.18",
                "architecture": "amd64",
                "operatingSystem": "linux",
            },
        },
    }


def namespace(name: str, created: float) -> Obj:
    labels = {"kubernetes.io/metadata.name": name}
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": meta(name, None, created, labels),
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def service(name: str, ns: str, selector: dict[str, str], port: int, created: float) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(name, ns, created, {"app": name}),
        "spec": {
            "type": "ClusterIP",
            "clusterIP": f"10.96.{len(name)}.{port % 250}",
            "selector": dict(selector),
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": port}],
            "sessionAffinity": "None",
        },
        "status": {"loadBalancer": {}},
    }


def endpoints(svc: Obj, pods: list[tuple[Obj, bool]]) -> Obj:
    """Endpoints of a Service from the pods its selector matches, split by readiness."""
    ready: list[Obj] = []
    not_ready: list[Obj] = []
    for pod, is_ready in pods:
        ip = pod["status"].get("podIP")
        if not ip:
            continue
        address = {
            "ip": ip,
            "nodeName": pod["spec"].get("nodeName"),
            "targetRef": {
                "kind": "Pod",
                "name": pod["metadata"]["name"],
                "namespace": pod["metadata"]["namespace"],
                "uid": pod["metadata"]["uid"],
            },
        }
        (ready if is_ready else not_ready).append(address)
    subset: Obj = {"ports": [{"name": "http", "port": svc["spec"]["ports"][0]["targetPort"]}]}
    if ready:
        subset["addresses"] = ready
    if not_ready:
        subset["notReadyAddresses"] = not_ready
    metadata = dict(svc["metadata"])
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": metadata,
        "subsets": [subset] if ready or not_ready else [],
    }


def configmap(name: str, ns: str, data: dict[str, str], created: float) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(name, ns, created),
        "data": dict(data),
    }


def secret(name: str, ns: str, data: dict[str, str], created: float) -> Obj:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta(name, ns, created),
        "type": "Opaque",
        "data": encoded,
    }


def ingress(name: str, ns: str, host: str, created: float) -> Obj:
    backend = {"service": {"name": name, "port": {"number": 80}}}
    path = {"path": "/", "pathType": "Prefix", "backend": backend}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": meta(name, ns, created),
        "spec": {"ingressClassName": "nginx", "rules": [{"host": host, "http": {"paths": [path]}}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.168.49.2"}]}},
    }


def network_policies(app: str, ns: str, port: int, created: float) -> list[Obj]:
    """Default-deny ingress plus a rule letting the ingress controller reach the app."""

    def policy(name: str, spec: Obj) -> Obj:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta(name, ns, created),
            "spec": spec,
        }

    from_ingress = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    }
    return [
        policy("default-deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]}),
        policy(
            f"allow-ingress-to-{app}",
            {
                "podSelector": {"matchLabels": {"app": app}},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [from_ingress], "ports": [{"protocol": "TCP", "port": port}]}],
            },
        ),
    ]
