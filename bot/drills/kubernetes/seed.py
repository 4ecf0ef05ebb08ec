"""Builds a scenario's starting cluster, replaying its rollout history at past times."""

from __future__ import annotations

from bot.drills.kubernetes.autoscaling import hpa
from bot.drills.kubernetes.cluster import Cluster
from bot.drills.kubernetes.controller import dependency_pod, sync_deployment
from bot.drills.kubernetes.objects import (
    Obj,
    configmap,
    ingress,
    namespace,
    network_policies,
    node,
    secret,
    service,
)
from bot.drills.kubernetes.scenario import Resources, ServiceSpec
from bot.drills.kubernetes.volumes import volume_objects
from bot.drills.kubernetes.workloads import deployment, pod_template

_DAY = 86400.0
_INGRESS_IMAGE = "registry.k8s.io/ingress-nginx/controller:v1.10.1"


def app_container(spec: ServiceSpec, image: str, resources: Resources | None) -> Obj:
    chosen = resources or spec.resources
    # With the thresholds and timeout the API server fills in when a probe leaves them out.
    probe = {
        "httpGet": {"path": "/health", "port": spec.port, "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    workdir = {"workingDir": spec.workdir} if spec.workdir else {}
    return {
        "name": spec.container_name,
        "image": image,
        **workdir,
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
        "env": [dict(e) for e in spec.env],
        "envFrom": [{"configMapRef": {"name": f"{spec.name}-config"}}],
        "resources": chosen.model_dump(),
        "readinessProbe": {**probe, "periodSeconds": 10},
        "livenessProbe": {**probe, "periodSeconds": 20, "initialDelaySeconds": 15},
        "imagePullPolicy": "IfNotPresent",
    }


def seed(cluster: Cluster) -> None:
    """Populate the cluster as the scenario describes it, as of now."""
    scenario, now = cluster.scenario, cluster.clock()
    born = now - 90 * _DAY
    spec = scenario.service
    # The service's own namespace too: the API server keeps no object in a namespace it lacks.
    for ns in dict.fromkeys(("default", spec.namespace, "ingress-nginx", "kube-system")):
        cluster.put("namespaces", namespace(ns, born))
    for i, name in enumerate(scenario.nodes.names):
        cluster.put("nodes", node(name, i, scenario.nodes.cpu, scenario.nodes.memory, born))

    first = spec.revisions[0]
    template = pod_template(spec.name, [app_container(spec, first.image, first.resources)])
    dep = deployment(spec.name, spec.namespace, spec.replicas, template, now - 30 * _DAY)
    for number, rev in enumerate(spec.revisions):
        dep["spec"]["template"] = pod_template(
            spec.name, [app_container(spec, rev.image, rev.resources)]
        )
        # Creation is generation 1; each later release bumps it, as on the real server.
        dep["metadata"]["generation"] += 1 if number else 0
        sync_deployment(cluster, dep, now - rev.age_minutes * 60)

    ns = spec.namespace
    cluster.put("services", service(spec.name, ns, {"app": spec.name}, spec.port, born))
    cluster.put("configmaps", configmap(f"{spec.name}-config", ns, spec.config, born))
    cluster.put("secrets", secret(f"{spec.name}-secrets", ns, spec.secret, born))
    cluster.put("ingresses", ingress(spec.name, ns, spec.host, born))
    for policy in network_policies(spec.name, ns, spec.port, born):
        cluster.put("networkpolicies", policy)

    if spec.hpa is not None:
        cluster.put("horizontalpodautoscalers", hpa(spec.name, ns, spec.hpa, now - 30 * _DAY))
    for resource, obj in volume_objects(scenario, now - 30 * _DAY):
        cluster.put(resource, obj)

    for name, dep_spec in scenario.dependencies.items():
        cluster.put("services", service(name, ns, {"app": name}, dep_spec.port, born))
        crash = dep_spec.crash_log if dep_spec.state == "crashing" else []
        dependency_pod(cluster, name, now - dep_spec.age_minutes * 60, crash)

    controller = {
        "name": "controller",
        "image": _INGRESS_IMAGE,
        "ports": [{"name": "http", "containerPort": 80}, {"name": "https", "containerPort": 443}],
        "resources": {"requests": {"cpu": "100m", "memory": "90Mi"}},
    }
    nginx = "nginx-ingress-controller"
    ingress_dep = deployment(
        nginx, "ingress-nginx", 1, pod_template(nginx, [controller]), now - 60 * _DAY
    )
    sync_deployment(cluster, ingress_dep, now - 60 * _DAY)
