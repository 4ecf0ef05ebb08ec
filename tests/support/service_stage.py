"""A service as the Kubernetes playbooks expect it on the real cluster, and its config file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.support.real_cluster import Cluster, container, template

SERVICE = "api"
INGRESS = "nginx-ingress-controller"
# Standalone pods standing in for the dependencies' workloads: (name, app label).
DEPENDENCY_PODS = [
    ("postgres-0", "postgres"),
    ("redis-0", "redis"),
    ("kafka-0", "kafka"),
    ("user-service-0", "user-service"),
    ("post-service-0", "post-service"),
    ("frontend-0", "frontend"),
]
ENV = [
    {"name": "ECAP_MODE", "value": "live"},
    {"name": "CONDUIT_URL", "value": "http://conduit"},
    {"name": "DATABASE_HOST", "value": "postgres"},
    {"name": "DATABASE_PASSWORD",
     "valueFrom": {"secretKeyRef": {"name": "api-secrets", "key": "password"}}},
]  # fmt: skip
RESOURCES = {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}
RELEASES = [
    template(SERVICE, container(SERVICE, "ecap/api:2.3.9", env=ENV, resources=RESOURCES)),
    template(SERVICE, container(SERVICE, "ecap/api:2.4.0", env=ENV, resources=RESOURCES)),
]


def write_config(path: Path, namespace: str, ingress_namespace: str, playbooks: list[str]) -> Path:
    deps: dict[str, Any] = {
        "postgres": {"selector": "app=postgres", "pod": "postgres-0", "host": "postgres",
                     "port": 5432, "url": "postgresql://postgres:5432/app"},
        "redis": {"selector": "app=redis", "pod": "redis-0", "host": "redis", "port": 6379,
                  "url": "redis://redis:6379"},
        "kafka": {"selector": "app=kafka"},
        "user-service": {"selector": "app=user-service"},
        "post-service": {"selector": "app=post-service"},
        "frontend": {"selector": "app=frontend", "url": "http://frontend:3000"},
        "external-api": {"url": "https://api.example.com"},
    }  # fmt: skip
    web = "http://127.0.0.1:9"
    service = {
        "namespace": namespace,
        "playbooks": playbooks,
        "ingress_controller": {"namespace": ingress_namespace, "deployment": INGRESS},
        "last_known_good_image": "ecap/api:2.3.9",
        "health_url": f"{web}/health", "ready_url": f"{web}/ready", "live_url": f"{web}/live",
        "metrics_url": f"{web}/metrics", "load_balancer_url": f"{web}/lb",
        "dependencies": deps,
    }  # fmt: skip
    path.write_text(yaml.safe_dump({"services": {SERVICE: service}}))
    return path


def stage(cluster: Cluster, ns: str) -> None:
    """Everything the playbooks' steps read and change, as a running service would have it."""
    cluster.deploy(ns, SERVICE, RELEASES)
    cluster.roll_out(ns, SERVICE)
    core, named = cluster.core, {"name": SERVICE, "labels": {"app": SERVICE}}
    Cluster.create(
        core.create_namespaced_service,
        ns,
        {"metadata": named, "spec": {"selector": {"app": SERVICE}, "ports": [{"port": 80}]}},
    )
    Cluster.create(
        core.create_namespaced_config_map,
        ns,
        {"metadata": {"name": f"{SERVICE}-config"}, "data": {"SESSION_TTL": "3600"}},
    )
    Cluster.create(
        core.create_namespaced_secret,
        ns,
        {"metadata": {"name": f"{SERVICE}-secrets"}, "stringData": {"password": "s3cret"}},
    )
    Cluster.create(
        core.create_namespaced_persistent_volume_claim,
        ns,
        {
            "metadata": {"name": f"{SERVICE}-data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": SERVICE}
    cpu = {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}
    Cluster.create(cluster.autoscaling.create_namespaced_horizontal_pod_autoscaler,
        ns,
        {
            "metadata": named,
            "spec": {"scaleTargetRef": target, "minReplicas": 2, "maxReplicas": 20,
                     "metrics": [{"type": "Resource", "resource": cpu}]},
        },
    )  # fmt: skip
    backend = {"service": {"name": SERVICE, "port": {"number": 80}}}
    path = {"path": "/", "pathType": "Prefix", "backend": backend}
    Cluster.create(cluster.networking.create_namespaced_ingress,
        ns,
        {"metadata": named,
         "spec": {"rules": [{"host": "api.example.com", "http": {"paths": [path]}}]}},
    )  # fmt: skip
    Cluster.create(cluster.networking.create_namespaced_network_policy,
        ns,
        {"metadata": named,
         "spec": {"podSelector": {"matchLabels": {"app": SERVICE}}, "policyTypes": ["Ingress"]}},
    )  # fmt: skip
    # The endpoints controller skips ready pods that no node runs (there is no scheduler), so
    # the Endpoints it would write are staged here.
    address = {"ip": "10.244.0.10"}
    Cluster.create(
        core.create_namespaced_endpoints,
        ns,
        {"metadata": named, "subsets": [{"addresses": [address], "ports": [{"port": 80}]}]},
    )
    restore_dependencies(cluster, ns)


def restore_dependencies(cluster: Cluster, ns: str) -> None:
    """Recreate a dependency pod a fix deleted, as its StatefulSet would, and report it running."""
    present = {pod["metadata"]["name"] for pod in cluster.pods(ns, "")}
    for name, app in DEPENDENCY_PODS:
        if name in present:
            continue
        body = {"metadata": {"name": name, "labels": {"app": app}},
                "spec": {"containers": [container(app, f"{app}:1")]}}  # fmt: skip
        Cluster.create(cluster.core.create_namespaced_pod, ns, body)
        cluster.report_pods(ns, f"app={app}", "running")


def settle(cluster: Cluster, ns: str) -> None:
    """After a fix: the rollout it started is reported done, and deleted pods are back."""
    cluster.settle(ns, SERVICE)
    cluster.roll_out(ns, SERVICE)
    restore_dependencies(cluster, ns)
