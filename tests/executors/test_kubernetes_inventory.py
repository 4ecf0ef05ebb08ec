"""New Kubernetes reads against the sandbox: volumes, HPAs, cluster info and log filters."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import yaml

from bot.config import ServiceBinding
from bot.drills.kubernetes.scenario import VolumeSpec
from bot.drills.kubernetes.volumes import volume_objects
from bot.executors.kubernetes import KubernetesExecutor
from bot.executors.kubernetes import params as p
from tests.executors.conftest import Started
from tests.support.findings import values


async def test_volumes_lists_bound_claims_and_their_volumes(
    start: Callable[[str], Started],
) -> None:
    _, executor, binding = start("oom-bad-deploy")
    result = await executor.check(p.K8sVolumes(type="k8s.volumes"), binding)
    assert result.status == "ok", result.summary
    assert result.summary == "1 claim(s) in namespace default, all Bound"
    assert values(result, "pvc.phase") == ["Bound"]
    assert result.findings[0].subject == "pvc/data-postgres-0"
    assert values(result, "pvc.pending") == [0]
    assert "20Gi" in result.output and "RECLAIM POLICY" in result.output
    assert "default/data-postgres-0" in result.output


async def test_a_pending_claim_is_a_problem(start: Callable[[str], Started]) -> None:
    sandbox, executor, binding = start("oom-bad-deploy")
    extra = sandbox.cluster.scenario.model_copy(
        update={"volumes": {"uploads": VolumeSpec(phase="Pending", storage_class="fast-ssd")}}
    )
    with sandbox.cluster.locked():
        for resource, obj in volume_objects(extra, sandbox.cluster.clock()):
            sandbox.cluster.put(resource, obj)
    result = await executor.check(p.K8sVolumes(type="k8s.volumes"), binding)
    assert result.status == "problem"
    assert result.summary == "1 of 2 claim(s) not Bound: uploads Pending"
    assert values(result, "pvc.pending") == [1]
    assert sorted(values(result, "pvc.phase")) == ["Bound", "Pending"]


async def test_volumes_without_the_cluster_wide_grant_shows_claims_only(
    start: Callable[[str], Started],
) -> None:
    sandbox, executor, binding = start("oom-bad-deploy")
    sandbox.forbid("persistentvolumes")
    result = await executor.check(p.K8sVolumes(type="k8s.volumes"), binding)
    assert result.status == "ok"
    assert "data-postgres-0" in result.output and "RECLAIM POLICY" not in result.output
    assert "may not list persistentvolumes cluster-wide" in result.output


async def test_hpa_of_the_service_and_a_missing_one(start: Callable[[str], Started]) -> None:
    _, executor, binding = start("gateway-crashloop")
    result = await executor.check(p.K8sHpa(type="k8s.hpa"), binding)
    assert values(result, "hpa.current_replicas") == [3]
    assert values(result, "hpa.desired_replicas") == [3]
    assert values(result, "hpa.max_replicas") == [10]
    assert values(result, "hpa.at_max") == [False]
    assert values(result, "hpa.missing") == [False]
    # Crash-looping pods report no CPU: the HPA cannot scale, which is worth saying.
    assert result.status == "problem" and "FailedGetResourceMetric" in result.summary
    assert "cpu: <unknown>/70%" in result.output and "Deployment/api-gateway" in result.output
    missing = await executor.check(p.K8sHpa(type="k8s.hpa", name="nope"), binding)
    assert missing.status == "problem"
    assert missing.summary == "no HPA named nope in namespace default"
    assert values(missing, "hpa.missing") == [True]


async def test_hpa_of_a_healthy_service_is_ok(start: Callable[[str], Started]) -> None:
    _, executor, binding = start("gateway-crashloop")
    await executor.apply(p.K8sRolloutUndo(type="k8s.rollout_undo"), binding)
    result = await executor.check(p.K8sHpa(type="k8s.hpa"), binding)
    assert result.status == "ok", result.summary
    assert "cpu: 35%/70%" in result.summary


async def test_cluster_info(start: Callable[[str], Started]) -> None:
    sandbox, executor, binding = start("oom-bad-deploy")
    result = await executor.check(p.K8sClusterInfo(type="k8s.cluster_info"), binding)
    assert result.status == "ok"
    assert values(result, "cluster.reachable") == [True]
    assert values(result, "cluster.version") == ["v1.37.2"]
    assert f"running at {sandbox.api_url}" in result.output
    assert sandbox.token not in result.model_dump_json()


async def test_cluster_info_when_nothing_answers(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"token": "t0ken-value"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    executor = KubernetesExecutor(str(path), timeout=2)
    try:
        result = await executor.check(p.K8sClusterInfo(type="k8s.cluster_info"), ServiceBinding())
    finally:
        await executor.close()
    assert result.status == "problem"
    assert values(result, "cluster.reachable") == [False]
    assert "connection refused" in result.summary


async def test_logs_match_keeps_matching_lines(start: Callable[[str], Started]) -> None:
    _, executor, binding = start("gateway-crashloop")
    action = p.K8sLogs(type="k8s.logs", previous=True, match="session_secret", tail=50)
    result = await executor.check(action, binding)
    lines = [line for line in result.output.splitlines() if line and not line.startswith("==> ")]
    assert lines and all("SESSION_SECRET" in line for line in lines)
    assert values(result, "logs.matches") == [len(lines)]
    assert values(result, "logs.text") == [result.output]
    assert values(result, "logs.errors")[0] >= 3
    none = await executor.check(action.model_copy(update={"match": "no-such-thing"}), binding)
    assert values(none, "logs.matches") == [0] and values(none, "logs.errors") == [0]
    assert none.status == "ok"


async def test_logs_count_field_counts_most_common_first(
    start: Callable[[str], Started],
) -> None:
    _, executor, binding = start("database-down")
    action = p.K8sLogs(type="k8s.logs", count_field=2, since_minutes=5)
    result = await executor.check(action, binding)
    counts = result.output.split("\n\n", 1)[0].splitlines()
    assert counts[0].split() == ["15", "ERROR"]  # 3 pods x 5 connection errors
    assert [line.split()[1] for line in counts[1:]] == ["INFO", "WARN"]
    assert values(result, "logs.top_value") == ["ERROR"]
    grep = p.K8sLogs(type="k8s.logs", match="could not connect", count_field=7)
    by_target = await executor.check(grep, binding)
    assert by_target.output.splitlines()[0].split() == ["15", "database:"]
