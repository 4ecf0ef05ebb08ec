"""Kubernetes failures become one-line error results: forbidden, not found, unreachable, ..."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.config import ServiceBinding
from bot.drills.kubernetes import Sandbox
from bot.executors.base import ReadAction
from bot.executors.kubernetes import KubernetesExecutor
from bot.executors.kubernetes import params as p

PODS = p.K8sPods(type="k8s.pods")


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox.start("oom-bad-deploy", ready_delay=0.0)
    yield sb
    sb.stop()


@pytest.fixture
def binding(sandbox: Sandbox) -> ServiceBinding:
    return ServiceBinding.model_validate(sandbox.binding()).with_defaults(sandbox.service_name)


@pytest.fixture
def kubeconfig(sandbox: Sandbox, tmp_path: Path) -> Path:
    return sandbox.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
async def executor(kubeconfig: Path) -> AsyncIterator[KubernetesExecutor]:
    ex = KubernetesExecutor(str(kubeconfig))
    yield ex
    await ex.close()


def rewrite(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run_with(kubeconfig: str, binding: ServiceBinding) -> str:
    ex = KubernetesExecutor(kubeconfig, timeout=5.0)
    try:
        result = await ex.check(PODS, binding)
    finally:
        await ex.close()
    assert result.status == "error" and "\n" not in result.summary
    return result.summary


async def test_forbidden_is_one_line(
    sandbox: Sandbox, executor: KubernetesExecutor, binding: ServiceBinding
) -> None:
    sandbox.forbid("secrets")
    result = await executor.check(p.K8sSecretKeys(type="k8s.secret_keys"), binding)
    assert result.status == "error"
    assert result.summary == "forbidden: cannot get secrets in namespace default (403)"


async def test_missing_deployment_is_not_found(
    executor: KubernetesExecutor, binding: ServiceBinding
) -> None:
    status = p.K8sRolloutStatus(type="k8s.rollout_status", deployment="nope")
    result = await executor.check(status, binding)
    assert (result.status, result.summary) == (
        "error",
        "not found: deployment nope in namespace default",
    )
    preview = await executor.preview(
        p.K8sScale(type="k8s.scale", deployment="nope", replicas=2), binding
    )
    assert preview.error == "not found: deployment nope in namespace default"
    applied = await executor.apply(
        p.K8sSetImage(type="k8s.set_image", deployment="nope", image="x:1"), binding
    )
    assert applied.status == "error" and applied.summary.startswith("not found:")


async def test_unreachable_cluster(
    kubeconfig: Path, sandbox: Sandbox, binding: ServiceBinding
) -> None:
    rewrite(kubeconfig, sandbox.api_url, f"http://127.0.0.1:{closed_port()}")
    summary = await run_with(str(kubeconfig), binding)
    assert summary.startswith("cluster unreachable at http://127.0.0.1:")
    assert summary.endswith(": connection refused")


async def test_rejected_token_is_unauthorized_and_never_shown(
    kubeconfig: Path, sandbox: Sandbox, binding: ServiceBinding
) -> None:
    rewrite(kubeconfig, sandbox.token, "not-the-token-1234")
    summary = await run_with(str(kubeconfig), binding)
    assert summary == "unauthorized: the cluster rejected the bot's credentials"


async def test_no_kubeconfig(tmp_path: Path, binding: ServiceBinding) -> None:
    summary = await run_with(str(tmp_path / "missing"), binding)
    assert summary.startswith("no Kubernetes credentials")


async def test_unknown_action_type(executor: KubernetesExecutor, binding: ServiceBinding) -> None:
    result = await executor.check(ReadAction(type="k8s.nope"), binding)
    assert result.status == "error" and result.summary == "not a Kubernetes read: k8s.nope"


async def test_slow_cluster_times_out(
    sandbox: Sandbox, kubeconfig: Path, binding: ServiceBinding
) -> None:
    sandbox.set_latency(3.0)
    ex = KubernetesExecutor(str(kubeconfig), timeout=0.5)
    try:
        result = await ex.check(p.K8sNodes(type="k8s.nodes"), binding)
    finally:
        await ex.close()
    assert (result.status, result.summary) == ("error", "timed out after 0.5s")
