"""Reads through the real kubernetes client: pods, logs, events, metrics, auth."""

from __future__ import annotations

import base64

import kubernetes
import pytest

from bot.drills.kubernetes import Sandbox, list_scenarios
from tests.drills.kubernetes.conftest import Kube


def test_scenarios_are_listed_with_descriptions() -> None:
    names = dict(list_scenarios())
    assert {"oom-bad-deploy", "pending-resources", "database-down"} <= set(names)
    assert all(names.values())


def test_bad_deploy_pods_are_oomkilled(oom: tuple[Sandbox, Kube]) -> None:
    sandbox, kube = oom
    pods = kube.app_pods()
    assert len(pods) == 3
    for pod in pods:
        status = pod["status"]["containerStatuses"][0]
        assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        assert status["lastState"]["terminated"]["reason"] == "OOMKilled"
        assert status["lastState"]["terminated"]["exitCode"] == 137
        assert status["restartCount"] > 0
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
    assert not sandbox.healthy()


def test_typed_client_models_parse(oom: tuple[Sandbox, Kube]) -> None:
    _, kube = oom
    dep = kube.apps.read_namespaced_deployment("ecap-api", "default")
    assert dep.spec is not None and dep.spec.template.spec is not None and dep.status is not None
    assert dep.spec.template.spec.containers[0].image == "ecap/api:2.5.0"
    assert dep.status.updated_replicas == 3 and not dep.status.ready_replicas
    nodes = kube.core.list_node().items
    names: list[str | None] = []
    memory: list[str] = []
    for node in nodes:
        assert node.metadata is not None and node.status is not None
        assert node.status.allocatable is not None
        names.append(node.metadata.name)
        memory.append(node.status.allocatable["memory"])
    assert names == ["node-a", "node-b", "node-c"]
    assert memory == ["8Gi"] * len(nodes)


def test_replicasets_carry_revisions(oom: tuple[Sandbox, Kube]) -> None:
    _, kube = oom
    sets = kube.json(
        kube.apps.list_namespaced_replica_set, "default", label_selector="app=ecap-api"
    )
    by_rev = {
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs
        for rs in sets["items"]
    }
    assert sets["kind"] == "ReplicaSetList"
    images = {
        r: rs["spec"]["template"]["spec"]["containers"][0]["image"] for r, rs in by_rev.items()
    }
    assert images == {"1": "ecap/api:2.3.9", "2": "ecap/api:2.4.0", "3": "ecap/api:2.5.0"}
    assert by_rev["3"]["spec"]["replicas"] == 3 and by_rev["2"]["spec"]["replicas"] == 0


def test_logs_tail_previous_and_errors(oom: tuple[Sandbox, Kube]) -> None:
    _, kube = oom
    name = kube.app_pods()[0]["metadata"]["name"]
    text = kube.core.read_namespaced_pod_log(name, "default", tail_lines=2, previous=True)
    assert len(text.splitlines()) == 2 and text.rstrip().endswith("Killed")
    with pytest.raises(kubernetes.client.ApiException) as err:
        kube.core.read_namespaced_pod_log("redis-0", "default", previous=True)
    assert err.value.status == 400 and err.value.body is not None
    assert "previous terminated container" in err.value.body
    nginx = kube.json(kube.core.list_namespaced_pod, "ingress-nginx")["items"][0]["metadata"][
        "name"
    ]
    ingress_log = kube.core.read_namespaced_pod_log(nginx, "ingress-nginx", container="controller")
    assert " 503 " in ingress_log and " 502 " in ingress_log


def test_events_filter_by_involved_object(oom: tuple[Sandbox, Kube]) -> None:
    _, kube = oom
    name = kube.app_pods()[0]["metadata"]["name"]
    events = kube.json(
        kube.core.list_namespaced_event, "default", field_selector=f"involvedObject.name={name}"
    )["items"]
    reasons = {e["reason"] for e in events}
    assert {"BackOff", "OOMKilling"} <= reasons
    assert all(e["involvedObject"]["name"] == name for e in events)


def test_metrics(oom: tuple[Sandbox, Kube]) -> None:
    _, kube = oom
    nodes = kube.custom.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "nodes")
    assert isinstance(nodes, dict)
    assert nodes["kind"] == "NodeMetricsList" and len(nodes["items"]) == 3
    pods = kube.custom.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", "default", "pods")
    assert isinstance(pods, dict)
    assert any(p["metadata"]["name"] == "postgres-0" for p in pods["items"])
    assert all(p["containers"][0]["usage"]["memory"].endswith("Ki") for p in pods["items"])


def test_config_secret_ingress_policies(oom: tuple[Sandbox, Kube]) -> None:
    sandbox, kube = oom
    cm = kube.json(kube.core.read_namespaced_config_map, "ecap-api-config", "default")
    assert "DATABASE_PASSWORD" in cm["data"]
    secret = kube.json(kube.core.read_namespaced_secret, "ecap-api-secrets", "default")
    decoded = {base64.b64decode(v).decode() for v in secret["data"].values()}
    assert decoded <= set(sandbox.secret_values())
    ing = kube.json(kube.net.list_namespaced_ingress, "default")["items"][0]
    assert ing["spec"]["rules"][0]["host"] == "api.ecap.local"
    assert len(kube.json(kube.net.list_namespaced_network_policy, "default")["items"]) == 2


def test_auth_forbid_and_not_found(oom: tuple[Sandbox, Kube]) -> None:
    sandbox, kube = oom
    plain = kubernetes.client.ApiClient(kubernetes.client.Configuration(host=sandbox.url))
    with plain, pytest.raises(kubernetes.client.ApiException) as err:
        kubernetes.client.CoreV1Api(plain).list_namespaced_pod("default")
    assert err.value.status == 401 and err.value.body is not None
    assert '"reason": "Unauthorized"' in err.value.body
    sandbox.forbid("secrets")
    with pytest.raises(kubernetes.client.ApiException) as err:
        kube.core.read_namespaced_secret("ecap-api-secrets", "default")
    assert err.value.status == 403 and err.value.body is not None
    assert '"reason": "Forbidden"' in err.value.body
    with pytest.raises(kubernetes.client.ApiException) as err:
        kube.core.read_namespaced_config_map("nope", "default")
    assert err.value.status == 404 and err.value.body is not None
    assert '"reason": "NotFound"' in err.value.body
