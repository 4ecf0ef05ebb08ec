"""Every Kubernetes read against the real kube-apiserver, on what a crash-looping release leaves.

The staging mirrors the drill's `oom-bad-deploy`: ecap-api's second release crash-loops, OOMKilled,
on a node; its Service, ingress, policies, config, claims and HPA around it. Each read must give
the findings the drill gives, or, where a real cluster without a kubelet or a metrics-server
cannot answer, one clear line.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import kubernetes
import pytest

from bot.config import ServiceBinding
from bot.executors.base import CheckResult
from bot.executors.kubernetes import READS, KubernetesExecutor
from bot.executors.kubernetes import params as p
from cluster.control_plane import kubernetes_release
from tests.support.findings import values
from tests.support.real_cluster import Cluster, Obj, container, template, wait_for

APP = "ecap-api"
LIMITS = {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "250m"}}
SECRET_VALUES = ("s3cr3t-db-password", "k3y-0f-the-api")
ENV = [
    {"name": "ECAP_LOG_LEVEL", "value": "info"},
    {"name": "ECAP_REGION", "value": "eu-west-1"},
    {"name": "ECAP_DB_HOST", "value": "postgres"},
    {"name": "ECAP_DATABASE_PASSWORD", "value": SECRET_VALUES[0]},
    {
        "name": "ECAP_API_KEY",
        "valueFrom": {"secretKeyRef": {"name": f"{APP}-secrets", "key": "API_KEY"}},
    },
    {"name": "TZ", "value": "UTC"},
]
RELEASES = [
    template(APP, container(APP, "ecap/api:2.3.9", env=ENV, resources=LIMITS)),
    template(APP, container(APP, "ecap/api:2.4.0", env=ENV, resources=LIMITS)),
]


@dataclass(frozen=True)
class Staged:
    """What the module staged: its namespace and nodes, and the binding the reads use."""

    namespace: str
    node: str
    pressured_node: str
    cluster: Cluster

    @property
    def binding(self) -> ServiceBinding:
        return ServiceBinding(namespace=self.namespace).with_defaults(APP)

    def nodes_report(self) -> None:
        """Heartbeats: without a kubelet the node controller would mark them NotReady."""
        self.cluster.report_node(self.node)
        self.cluster.report_node(self.pressured_node, pressure="MemoryPressure")


def kubelet_event(cluster: Cluster, pod: Obj, node: str, reason: str, message: str) -> None:
    """An event as the kubelet records it about one of its pods."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    meta = pod["metadata"]
    Cluster.create(
        cluster.core.create_namespaced_event,
        meta["namespace"],
        {
            "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:12]}"},
            "involvedObject": {
                "kind": "Pod",
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta["uid"],
                "apiVersion": "v1",
            },
            "reason": reason,
            "message": message,
            "type": "Warning",
            "source": {"component": "kubelet", "host": node},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 5,
        },
    )


def stage_traffic_and_config(cluster: Cluster, ns: str) -> None:
    Cluster.create(
        cluster.core.create_namespaced_service,
        ns,
        {
            "metadata": {"name": APP},
            "spec": {"selector": {"app": APP}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )
    Cluster.create(
        cluster.networking.create_namespaced_ingress,
        ns,
        {
            "metadata": {"name": APP},
            "spec": {
                "rules": [
                    {
                        "host": "api.ecap.local",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": APP, "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ]
            },
        },
    )
    for name, selector in (("default-deny", {}), ("allow-api", {"matchLabels": {"app": APP}})):
        Cluster.create(
            cluster.networking.create_namespaced_network_policy,
            ns,
            {
                "metadata": {"name": name},
                "spec": {"podSelector": selector, "policyTypes": ["Ingress"]},
            },
        )
    Cluster.create(
        cluster.core.create_namespaced_config_map,
        ns,
        {
            "metadata": {"name": f"{APP}-config"},
            "data": {"LOG_LEVEL": "info", "DATABASE_PASSWORD": SECRET_VALUES[0]},
        },
    )
    Cluster.create(
        cluster.core.create_namespaced_secret,
        ns,
        {
            "metadata": {"name": f"{APP}-secrets"},
            "stringData": {"DB_PASSWORD": SECRET_VALUES[0], "API_KEY": SECRET_VALUES[1]},
        },
    )


def stage_storage_and_hpa(cluster: Cluster, ns: str) -> str:
    """A claim the volume controller binds, one no volume fits, and an HPA; the volume's name."""
    volume = f"{ns}-data"
    Cluster.create(
        cluster.core.create_persistent_volume,
        {
            "metadata": {"name": volume},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "manual",
                "hostPath": {"path": f"/tmp/{volume}"},
            },
        },
    )
    for name, storage_class in (("data", "manual"), ("cache", "fast")):
        Cluster.create(
            cluster.core.create_namespaced_persistent_volume_claim,
            ns,
            {
                "metadata": {"name": name},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": storage_class,
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            },
        )
    Cluster.create(
        cluster.autoscaling.create_namespaced_horizontal_pod_autoscaler,
        ns,
        {
            "metadata": {"name": APP},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": APP},
                "minReplicas": 3,
                "maxReplicas": 6,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 80},
                        },
                    }
                ],
            },
        },
    )
    return volume


def settled(cluster: Cluster, ns: str) -> bool:
    """The controllers have caught up with the staging: slices, volume binding, HPA status."""
    slices = cluster.read(
        kubernetes.client.DiscoveryV1Api(cluster.api).list_namespaced_endpoint_slice,
        ns,
        label_selector=f"kubernetes.io/service-name={APP}",
    )["items"]
    endpoints = [e for s in slices for e in s.get("endpoints") or []]
    claim = cluster.read(cluster.core.read_namespaced_persistent_volume_claim, "data", ns)
    hpa = cluster.read(cluster.autoscaling.read_namespaced_horizontal_pod_autoscaler, APP, ns)
    dep = cluster.deployment(ns, APP)
    return (
        len(endpoints) == 3
        and claim.get("status", {}).get("phase") == "Bound"
        and bool(hpa.get("status", {}).get("conditions"))
        and not dep.get("status", {}).get("availableReplicas")
    )


@pytest.fixture(scope="module")
def staged(cluster: Cluster) -> Iterator[Staged]:
    ns = cluster.new_namespace("reads")
    stage = Staged(ns, f"{ns}-node", f"{ns}-node-2", cluster)
    stage.nodes_report()
    cluster.deploy(ns, APP, RELEASES)
    cluster.roll_out(ns, APP)
    cluster.deploy(ns, "redis", [template("redis", container("redis", "redis:7.2"))], replicas=1)
    cluster.roll_out(ns, "redis")
    for app in (APP, "redis"):
        cluster.schedule(ns, f"app={app}", stage.node)
    cluster.report_pods(ns, "app=redis", "running")
    for pod in cluster.report_pods(ns, f"app={APP}", "oom-crashloop"):
        name = pod["metadata"]["name"]
        kubelet_event(
            cluster,
            pod,
            stage.node,
            "BackOff",
            f"Back-off restarting failed container {APP} in pod {name}_{ns}",
        )
    stage_traffic_and_config(cluster, ns)
    volume = stage_storage_and_hpa(cluster, ns)
    wait_for(lambda: settled(cluster, ns), timeout=60)
    yield stage
    cluster.delete_namespace(ns)
    cluster.core.delete_persistent_volume(volume)
    for node in (stage.node, stage.pressured_node):
        cluster.core.delete_node(node)


READS_BY_TYPE = {cls.model_fields["type"].annotation.__args__[0]: cls for cls in READS}  # type: ignore[union-attr]


async def check(executor: KubernetesExecutor, staged: Staged, kind: str, **params: Any) -> Any:
    result: CheckResult = await executor.check(
        READS_BY_TYPE[kind].model_validate({"type": kind, **params}), staged.binding
    )
    return result


def one_line(result: CheckResult) -> str:
    assert "\n" not in result.summary and "Traceback" not in result.summary, result.summary
    return result.summary


# Each read type's test, named here so a new read type without one fails the suite.
COVERED: set[str] = set()
Test = TypeVar("Test", bound=Callable[..., Awaitable[None]])


def covers(*kinds: str) -> Callable[[Test], Test]:
    COVERED.update(kinds)
    return lambda test: test


@covers("k8s.pods")
async def test_pods_find_the_oom_kills(executor: KubernetesExecutor, staged: Staged) -> None:
    result = await check(executor, staged, "k8s.pods")
    assert result.status == "problem"
    assert result.summary.startswith("0/3 pods ready: 3 CrashLoopBackOff")
    assert "OOMKilled" in result.summary
    assert values(result, "pod.last_termination_reason") == ["OOMKilled"] * 3
    assert values(result, "pod.waiting_reason") == ["CrashLoopBackOff"] * 3
    assert values(result, "pod.ready") == [False] * 3
    assert values(result, "pods.total") == [3] and values(result, "pods.ready") == [0]
    assert all(
        f.subject.startswith(f"pod/{APP}-") for f in result.findings if f.name == "pod.phase"
    )
    assert "CrashLoopBackOff" in result.output.splitlines()[1]
    assert staged.node in result.output.splitlines()[1]
    none = await check(executor, staged, "k8s.pods", selector="app=nothing")
    assert none.status == "problem" and none.summary.startswith("no pods match app=nothing")


@covers("k8s.describe_pods", "k8s.events")
async def test_describe_pods_and_events_show_the_kubelets_back_off(
    executor: KubernetesExecutor, staged: Staged
) -> None:
    described = await check(executor, staged, "k8s.describe_pods")
    assert described.status == "problem"
    assert (
        described.summary == "3 pod(s) not ready: 3 CrashLoopBackOff (last terminated: OOMKilled)"
    )
    assert "Last State:     Terminated" in described.output and "OOMKilled" in described.output
    assert "Limits:" in described.output and f"Node:         {staged.node}" in described.output
    assert values(described, "event.reason") == ["BackOff"] * 3

    events = await check(executor, staged, "k8s.events", limit=5)
    assert events.status == "problem"
    assert len(values(events, "event.reason")) == 5
    assert len(events.output.splitlines()) == 6
    # The controllers' own events are real too: the deployment's scaling of its ReplicaSets.
    everything = await check(executor, staged, "k8s.events", involving=APP, limit=500)
    assert {"ScalingReplicaSet", "SuccessfulCreate", "BackOff"} <= set(
        values(everything, "event.reason")
    )
    # The real HPA controller may have warned too: no CPU usage without a metrics API.
    assert re.fullmatch(rf"\d+ warning event\(s\) for {APP}: BackOff(, \w+)*", everything.summary)


@covers("k8s.logs")
async def test_logs_without_a_kubelet_are_one_clear_line(
    cluster: Cluster, executor: KubernetesExecutor, staged: Staged
) -> None:
    pods = [p["metadata"]["name"] for p in cluster.pods(staged.namespace, f"app={APP}")]
    result = await check(executor, staged, "k8s.logs", deployment=APP, previous=True, tail=20)
    assert result.status == "error"
    # Whichever pod's request fails first names the dead kubelet.
    assert one_line(result) in {
        f"no logs of pod {pod}: the kubelet on node {staged.node} does not answer "
        "(connection refused)"
        for pod in pods
    }
    # A pod no scheduler placed: the API server answers an empty log, not an error.
    Cluster.create(
        cluster.core.create_namespaced_pod,
        staged.namespace,
        {
            "metadata": {"name": "pending", "labels": {"app": "pending"}},
            "spec": {"containers": [{"name": "pending", "image": "ecap/api:2.4.0"}]},
        },
    )
    pending = await check(executor, staged, "k8s.logs", pod="pending")
    assert one_line(pending) == (
        "no logs of pod/pending: no pod is scheduled on a node, so no kubelet has any"
    )
    assert "(not scheduled on a node: no kubelet has its logs)" in pending.output


@covers("k8s.rollout_history", "k8s.rollout_status")
async def test_rollout_history_and_status(executor: KubernetesExecutor, staged: Staged) -> None:
    history = await check(executor, staged, "k8s.rollout_history")
    assert history.status == "ok"
    assert values(history, "rollout.revision") == [2]
    assert values(history, "rollout.image") == ["ecap/api:2.4.0"]
    assert values(history, "rollout.previous_image") == ["ecap/api:2.3.9"]
    assert isinstance(values(history, "rollout.age_minutes")[0], int)
    assert "previous: revision 1 (ecap/api:2.3.9)" in history.summary
    status = await check(executor, staged, "k8s.rollout_status")
    assert status.status == "problem"
    assert status.summary.startswith("0/3 replicas available")
    assert values(status, "rollout.desired") == [3]
    assert values(status, "rollout.updated") == [3]


@covers("k8s.nodes", "k8s.describe_node")
async def test_nodes_and_the_node_under_the_pods(
    executor: KubernetesExecutor, staged: Staged
) -> None:
    staged.nodes_report()
    nodes = await check(executor, staged, "k8s.nodes")
    assert nodes.status == "problem"
    assert values(nodes, "node.ready") == [True, True]
    assert values(nodes, "node.pressure") == ["MemoryPressure"]
    assert nodes.summary == f"2/2 nodes ready: {staged.pressured_node} MemoryPressure"
    hosting = await check(executor, staged, "k8s.describe_node")
    assert hosting.status == "ok" and hosting.summary == "1/1 nodes ready"
    assert f"Name:           {staged.node}" in hosting.output
    assert "Allocatable:" in hosting.output and "memory:  8Gi" in hosting.output


@covers("k8s.top_nodes", "k8s.top_pods")
async def test_usage_without_a_metrics_api_is_one_clear_line(
    executor: KubernetesExecutor, staged: Staged
) -> None:
    line = (
        "metrics API not installed: the cluster does not serve metrics.k8s.io (no metrics-server)"
    )
    for kind in ("k8s.top_nodes", "k8s.top_pods"):
        result = await check(executor, staged, kind)
        assert result.status == "error"
        assert one_line(result) == line


@covers("k8s.endpoints", "k8s.ingresses", "k8s.network_policies")
async def test_endpoints_ingresses_policies(executor: KubernetesExecutor, staged: Staged) -> None:
    endpoints = await check(executor, staged, "k8s.endpoints")
    assert endpoints.status == "problem"
    assert values(endpoints, "endpoints.ready") == [0]
    assert values(endpoints, "endpoints.not_ready") == [3]
    assert endpoints.summary == f"service {APP}: 0 ready endpoint(s), 3 not ready"
    assert "10.244.0." in endpoints.output and ":8080" in endpoints.output
    ingresses = await check(executor, staged, "k8s.ingresses")
    assert values(ingresses, "ingress.count") == [1] and "api.ecap.local" in ingresses.output
    assert f"{APP}:80" in ingresses.output
    policies = await check(executor, staged, "k8s.network_policies")
    assert values(policies, "network_policy.count") == [2]
    assert "<all pods>" in policies.output and f"app={APP}" in policies.output


async def test_ready_endpoints_come_from_the_endpoint_slices(
    cluster: Cluster, executor: KubernetesExecutor, staged: Staged
) -> None:
    """Redis is running and ready: v1 Endpoints would list nothing, its EndpointSlice does."""
    staged.nodes_report()
    cluster.report_pods(staged.namespace, "app=redis", "running")
    Cluster.create(
        cluster.core.create_namespaced_service,
        staged.namespace,
        {
            "metadata": {"name": "redis"},
            "spec": {"selector": {"app": "redis"}, "ports": [{"port": 6379}]},
        },
    )
    wait_for(lambda: has_ready_endpoint(cluster, staged.namespace, "redis"))
    result = await check(executor, staged, "k8s.endpoints", service="redis")
    assert result.status == "ok"
    assert values(result, "endpoints.ready") == [1]
    assert result.summary == "service redis: 1 ready endpoint(s), 0 not ready"


def has_ready_endpoint(cluster: Cluster, ns: str, service: str) -> bool:
    slices = cluster.read(
        kubernetes.client.DiscoveryV1Api(cluster.api).list_namespaced_endpoint_slice,
        ns,
        label_selector=f"kubernetes.io/service-name={service}",
    )["items"]
    return any(
        (e.get("conditions") or {}).get("ready") for s in slices for e in s.get("endpoints") or []
    )


@covers("k8s.configmap", "k8s.secret_keys", "k8s.env")
async def test_configuration_reads_redact(executor: KubernetesExecutor, staged: Staged) -> None:
    cm = await check(executor, staged, "k8s.configmap")
    assert cm.status == "ok" and "DATABASE_PASSWORD: [redacted]" in cm.output
    secret = await check(executor, staged, "k8s.secret_keys")
    assert secret.status == "ok" and "DB_PASSWORD" in secret.output
    assert secret.summary == f"secret {APP}-secrets (Opaque): 2 key(s)"
    env = await check(executor, staged, "k8s.env", prefix="ECAP_")
    assert f"<from secret {APP}-secrets key API_KEY>" in env.output
    assert values(env, "env.count") == [5]
    none = await check(executor, staged, "k8s.env", prefix="NOPE_")
    assert none.status == "problem"
    missing_cm = await check(executor, staged, "k8s.configmap", name="gone")
    assert missing_cm.status == "problem" and values(missing_cm, "configmap.missing") == [True]
    missing = await check(executor, staged, "k8s.secret_keys", name="gone")
    assert missing.status == "problem" and values(missing, "secret.missing") == [True]


@covers("k8s.volumes", "k8s.hpa")
async def test_volumes_and_an_hpa_without_metrics(
    executor: KubernetesExecutor, staged: Staged
) -> None:
    volumes = await check(executor, staged, "k8s.volumes")
    assert volumes.status == "problem"
    assert volumes.summary == "1 of 2 claim(s) not Bound: cache Pending"
    assert values(volumes, "pvc.pending") == [1]
    assert f"{staged.namespace}/data" in volumes.output
    hpa = await check(executor, staged, "k8s.hpa")
    assert hpa.status == "problem"
    assert values(hpa, "hpa.min_replicas") == [3] and values(hpa, "hpa.max_replicas") == [6]
    # The real HPA controller cannot read CPU usage without the metrics API.
    assert hpa.summary.endswith(f"{APP} cannot scale (FailedGetResourceMetric)")
    assert "cpu: <unknown>/80%" in hpa.summary


@covers("k8s.cluster_info")
async def test_cluster_info_names_the_release(executor: KubernetesExecutor, staged: Staged) -> None:
    info = await check(executor, staged, "k8s.cluster_info")
    assert info.status == "ok"
    assert values(info, "cluster.version") == [kubernetes_release()]
    assert values(info, "cluster.reachable") == [True]


@covers("k8s.exec")
async def test_exec_without_a_kubelet_is_one_clear_line(
    cluster: Cluster, executor: KubernetesExecutor, staged: Staged
) -> None:
    redis = cluster.pods(staged.namespace, "app=redis")[0]["metadata"]["name"]
    result = await check(executor, staged, "k8s.exec", selector="app=redis", command=["env"])
    assert result.status == "error"
    assert one_line(result) == (
        f"cannot exec in pod {redis}: the kubelet on node {staged.node} does not answer "
        "(connection refused)"
    )
    # The crash-looping pods have no running container to exec into.
    crashing = await check(executor, staged, "k8s.exec", command=["env"])
    assert one_line(crashing) == f"no running pod of deployment/{APP} to exec into"


async def test_no_read_shows_a_secret(executor: KubernetesExecutor, staged: Staged) -> None:
    required: dict[str, dict[str, Any]] = {"k8s.exec": {"command": ["env"]}}
    for action_class in READS:
        kind = action_class.model_fields["type"].annotation.__args__[0]  # type: ignore[union-attr]
        result = await check(executor, staged, kind, **required.get(kind, {}))
        one_line(result)
        shown = result.model_dump_json()
        assert not [s for s in SECRET_VALUES if s in shown], kind


def test_every_read_type_has_a_real_cluster_case() -> None:
    kinds = {cls.model_fields["type"].annotation.__args__[0] for cls in READS}  # type: ignore[union-attr]
    assert set(COVERED) == kinds


async def test_env_resolves_config_maps_as_the_kubelet_would(
    executor: KubernetesExecutor, cluster: Cluster, namespace: str
) -> None:
    Cluster.create(
        cluster.core.create_namespaced_config_map,
        namespace,
        {
            "metadata": {"name": "app-config"},
            "data": {"DATABASE_URL": "postgres://app@db:5432/app", "DATABASE_PASSWORD": "pw-0f-cm"},
        },
    )
    pool = {"configMapKeyRef": {"name": "app-config", "key": "DATABASE_URL"}}
    token = {"secretKeyRef": {"name": "app-secrets", "key": "T"}}
    env = [
        {"name": "DATABASE_POOL", "valueFrom": pool},
        {"name": "DATABASE_TOKEN", "valueFrom": token},
    ]
    spec = container(
        "app",
        "ecap/api:2.4.0",
        env=env,
        envFrom=[{"configMapRef": {"name": "app-config"}}, {"secretRef": {"name": "app-secrets"}}],
    )
    body = {
        "metadata": {"name": "app"},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "app"}},
            "template": template("app", spec),
        },
    }
    Cluster.create(cluster.apps.create_namespaced_deployment, namespace, body)
    binding = ServiceBinding(namespace=namespace).with_defaults("app")
    action = READS_BY_TYPE["k8s.env"].model_validate({"type": "k8s.env", "prefix": "DATABASE_"})
    result = await executor.check(action, binding)
    assert values(result, "env.count") == [4], result.output
    rows = {line.split()[0]: line.split()[1:] for line in result.output.splitlines()[1:]}
    assert rows["DATABASE_URL"] == ["postgres://app@db:5432/app", "configmap", "app-config"]
    assert rows["DATABASE_POOL"] == ["postgres://app@db:5432/app", "env"]
    assert rows["DATABASE_PASSWORD"] == ["[redacted]", "configmap", "app-config"]
    assert "<from secret app-secrets key T>" in result.output
    assert "<all keys of secret app-secrets, not read>" in result.output
    assert "pw-0f-cm" not in result.model_dump_json()


async def test_pods_name_the_workload_the_controllers_made_them_for(
    executor: KubernetesExecutor, cluster: Cluster, namespace: str
) -> None:
    """Owners as the real controllers set them: a ReplicaSet's pod belongs to its Deployment.
    The Job's and the StatefulSet's pods carry the service's label and a name that, read as
    `NAME-HASH-SUFFIX`, would make them pods of the Deployment `api`."""
    pod = template("api", container("api", "ecap/api:2.4.0"))
    cluster.deploy(namespace, "api", [pod], replicas=1)
    job = {
        "metadata": {"name": "api-migrate"},
        "spec": {"template": {**pod, "spec": {**pod["spec"], "restartPolicy": "Never"}}},
    }
    Cluster.create(kubernetes.client.BatchV1Api(cluster.api).create_namespaced_job, namespace, job)
    stateful = {
        "metadata": {"name": "api-db"},
        "spec": {
            "serviceName": "api-db",
            "replicas": 1,
            "selector": {"matchLabels": {"app": "api", "tier": "db"}},
            "template": {**pod, "metadata": {"labels": {"app": "api", "tier": "db"}}},
        },
    }
    Cluster.create(cluster.apps.create_namespaced_stateful_set, namespace, stateful)
    wait_for(lambda: len(cluster.pods(namespace, "app=api")) == 3)

    result = await executor.check(
        p.K8sPods(type="k8s.pods"), ServiceBinding(namespace=namespace).with_defaults("api")
    )
    owners = {f.subject: f.value for f in result.findings if f.name == "pod.owner"}
    assert sorted(owners.values()) == ["deployment/api", "job/api-migrate", "statefulset/api-db"]
    assert owners["pod/api-db-0"] == "statefulset/api-db"
    [migration] = [pod for pod, owner in owners.items() if owner == "job/api-migrate"]
    assert migration.startswith("pod/api-migrate-")
