"""Kubernetes reads against the sandbox API server, through the real kubernetes client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import ServiceBinding
from bot.drills.kubernetes import Sandbox
from bot.executors.kubernetes import READS, KubernetesExecutor
from bot.executors.kubernetes import params as p
from tests.support.findings import values


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox.start("oom-bad-deploy", ready_delay=0.0)
    yield sb
    sb.stop()


@pytest.fixture
def binding(sandbox: Sandbox) -> ServiceBinding:
    return ServiceBinding.model_validate(sandbox.binding()).with_defaults(sandbox.service_name)


@pytest.fixture
async def executor(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[KubernetesExecutor]:
    ex = KubernetesExecutor(str(sandbox.write_kubeconfig(tmp_path / "kubeconfig")))
    yield ex
    await ex.close()


async def test_pods_find_the_oom_kills(
    executor: KubernetesExecutor, binding: ServiceBinding
) -> None:
    result = await executor.check(p.K8sPods(type="k8s.pods"), binding)
    assert result.status == "problem"
    assert result.summary.startswith("0/3 pods ready: 3 CrashLoopBackOff")
    assert "OOMKilled" in result.summary
    assert values(result, "pod.last_termination_reason") == ["OOMKilled"] * 3
    assert values(result, "pod.waiting_reason") == ["CrashLoopBackOff"] * 3
    assert values(result, "pod.ready") == [False] * 3
    assert values(result, "pods.total") == [3] and values(result, "pods.ready") == [0]
    assert all(
        f.subject.startswith("pod/ecap-api-") for f in result.findings if f.name == "pod.phase"
    )
    assert "CrashLoopBackOff" in result.output.splitlines()[1]


async def test_pods_name_their_workload_from_owner_references(
    executor: KubernetesExecutor, binding: ServiceBinding
) -> None:
    """A ReplicaSet's pods belong to its Deployment; a StatefulSet's pods to it."""
    pods = await executor.check(p.K8sPods(type="k8s.pods"), binding)
    assert values(pods, "pod.owner") == ["deployment/ecap-api"] * 3
    assert {f.subject for f in pods.findings if f.name == "pod.owner"} == {
        f.subject for f in pods.findings if f.name == "pod.phase"
    }
    database = await executor.check(p.K8sPods(type="k8s.pods", selector="app=postgres"), binding)
    assert [(f.subject, f.value) for f in database.findings if f.name == "pod.owner"] == [
        ("pod/postgres-0", "statefulset/postgres")
    ]
    described = await executor.check(p.K8sDescribePods(type="k8s.describe_pods"), binding)
    assert values(described, "pod.owner") == ["deployment/ecap-api"] * 3


async def test_no_matching_pods_is_a_problem(
    executor: KubernetesExecutor, binding: ServiceBinding
) -> None:
    result = await executor.check(p.K8sPods(type="k8s.pods", selector="app=nothing"), binding)
    assert result.status == "problem"
    assert result.summary.startswith("no pods match app=nothing")


async def test_describe_pods_shows_last_state_and_events(
    executor: KubernetesExecutor, binding: ServiceBinding
) -> None:
    result = await executor.check(p.K8sDescribePods(type="k8s.describe_pods"), binding)
    assert result.status == "problem"
    assert "Last State:     Terminated" in result.output and "OOMKilled" in result.output
    assert "Limits:" in result.output
    assert "OOMKilling" in values(result, "event.reason")


async def test_events_newest_last_with_limit(
    executor: KubernetesExecutor, binding: ServiceBinding
) -> None:
    result = await executor.check(p.K8sEvents(type="k8s.events", limit=5), binding)
    assert result.status == "problem"
    assert len(values(result, "event.reason")) == 5
    assert len(result.output.splitlines()) == 6


async def test_previous_logs_count_error_lines(
    executor: KubernetesExecutor, binding: ServiceBinding
) -> None:
    result = await executor.check(
        p.K8sLogs(type="k8s.logs", deployment="ecap-api", previous=True, tail=20), binding
    )
    assert result.status == "problem"
    assert values(result, "logs.errors")[0] > 0
    assert "(previous)" in result.output
    assert values(result, "logs.text") == [result.output]


async def test_rollout_history_and_status(
    executor: KubernetesExecutor, binding: ServiceBinding
) -> None:
    history = await executor.check(p.K8sRolloutHistory(type="k8s.rollout_history"), binding)
    assert history.status == "ok"
    assert values(history, "rollout.revision") == [3]
    assert values(history, "rollout.image") != values(history, "rollout.previous_image")
    assert isinstance(values(history, "rollout.age_minutes")[0], int)
    status = await executor.check(p.K8sRolloutStatus(type="k8s.rollout_status"), binding)
    assert status.status == "problem"
    assert status.summary.startswith("0/3 replicas available")
    assert values(status, "rollout.desired") == [3]


async def test_nodes_and_usage(executor: KubernetesExecutor, binding: ServiceBinding) -> None:
    nodes = await executor.check(p.K8sNodes(type="k8s.nodes"), binding)
    assert nodes.status == "ok" and values(nodes, "node.ready") == [True] * 3
    hosting = await executor.check(p.K8sDescribeNode(type="k8s.describe_node"), binding)
    assert "Allocatable:" in hosting.output
    top_nodes = await executor.check(p.K8sTopNodes(type="k8s.top_nodes"), binding)
    assert all(0 <= v <= 100 for v in values(top_nodes, "node.memory_percent"))
    top_pods = await executor.check(p.K8sTopPods(type="k8s.top_pods"), binding)
    assert top_pods.status == "problem"
    assert all(v > 90 for v in values(top_pods, "pod.memory_percent"))


async def test_endpoints_ingresses_policies(
    executor: KubernetesExecutor, binding: ServiceBinding
) -> None:
    endpoints = await executor.check(p.K8sEndpoints(type="k8s.endpoints"), binding)
    assert endpoints.status == "problem" and values(endpoints, "endpoints.ready") == [0]
    ingresses = await executor.check(p.K8sIngresses(type="k8s.ingresses"), binding)
    assert values(ingresses, "ingress.count") == [1] and "api.ecap.local" in ingresses.output
    policies = await executor.check(p.K8sNetworkPolicies(type="k8s.network_policies"), binding)
    assert values(policies, "network_policy.count") == [2]


async def test_configuration_reads_redact(
    executor: KubernetesExecutor, binding: ServiceBinding
) -> None:
    cm = await executor.check(p.K8sConfigMap(type="k8s.configmap"), binding)
    assert cm.status == "ok" and "DATABASE_PASSWORD: [redacted]" in cm.output
    secret = await executor.check(p.K8sSecretKeys(type="k8s.secret_keys"), binding)
    assert secret.status == "ok" and "DB_PASSWORD" in secret.output
    env = await executor.check(p.K8sEnv(type="k8s.env", prefix="ECAP_"), binding)
    assert "<from secret ecap-api-secrets key API_KEY>" in env.output
    assert values(env, "env.count") == [5]
    none = await executor.check(p.K8sEnv(type="k8s.env", prefix="NOPE_"), binding)
    assert none.status == "problem"


async def test_missing_configmap_and_secret_are_problems(
    executor: KubernetesExecutor, binding: ServiceBinding
) -> None:
    cm = await executor.check(p.K8sConfigMap(type="k8s.configmap", name="gone"), binding)
    assert cm.status == "problem" and values(cm, "configmap.missing") == [True]
    secret = await executor.check(p.K8sSecretKeys(type="k8s.secret_keys", name="gone"), binding)
    assert secret.status == "problem" and values(secret, "secret.missing") == [True]


async def test_no_read_shows_a_secret(
    sandbox: Sandbox, executor: KubernetesExecutor, binding: ServiceBinding
) -> None:
    secrets = [*sandbox.secret_values(), sandbox.token]
    # The app's pods crash-loop here: exec runs in a dependency's (see test_kubernetes_exec).
    required: dict[str, dict[str, Any]] = {
        "k8s.exec": {"command": ["env"], "selector": "app=redis"}
    }
    for action_class in READS:
        kind = action_class.model_fields["type"].annotation.__args__[0]  # type: ignore[union-attr]
        result = await executor.check(action_class(type=kind, **required.get(kind, {})), binding)
        assert result.status != "error", (kind, result.summary)
        shown = result.model_dump_json()
        assert not [s for s in secrets if s in shown], kind
