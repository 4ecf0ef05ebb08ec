"""`runbook-bot sandbox` as documented: serves a scenario to real clients, stops on a signal."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import docker
import kubernetes
import pytest

from tests.support.real_cluster import Cluster
from tests.support.redis_server import free_port

RUNBOOK_BOT = Path(sys.executable).with_name("runbook-bot")


def _sandbox(*args: str) -> subprocess.Popen[str]:
    assert RUNBOOK_BOT.is_file(), f"no console script at {RUNBOOK_BOT}"
    return subprocess.Popen([str(RUNBOOK_BOT), "sandbox", *args], stdout=subprocess.PIPE, text=True)


@pytest.mark.parametrize(
    ("scenario", "selector", "first", "sig"),
    [
        ("oom-bad-deploy", "app=ecap-api", "ecap-api-", signal.SIGINT),
        ("database-down", "app=postgres", "postgres-0", signal.SIGTERM),
    ],
)
def test_serves_a_cluster_until_signalled(
    tmp_path: Path, scenario: str, selector: str, first: str, sig: signal.Signals
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    port = free_port()
    proc = _sandbox("--scenario", scenario, "--port", str(port), "--kubeconfig", str(kubeconfig))
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        assert url == f"http://127.0.0.1:{port}"
        assert proc.stdout.readline().startswith("kubeconfig:")
        cfg = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig), client_configuration=cfg
        )
        with kubernetes.client.ApiClient(cfg) as api:
            pods = Cluster.read(
                kubernetes.client.CoreV1Api(api).list_namespaced_pod,
                "default",
                label_selector=selector,
            )
            assert pods["items"][0]["metadata"]["name"].startswith(first)
    finally:
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == 0


def test_serves_a_docker_engine_until_signalled() -> None:
    proc = _sandbox("--scenario", "container-crashed")
    try:
        assert proc.stdout is not None
        docker_host = proc.stdout.readline().split("DOCKER_HOST=")[-1].strip()
        assert docker_host.startswith("tcp://127.0.0.1:")
        assert proc.stdout.readline().startswith("health URL: http://127.0.0.1:")
        client = docker.DockerClient(base_url=docker_host, timeout=10)
        try:
            names = {c.name for c in client.containers.list(all=True)}
        finally:
            client.close()
        assert {"api-server", "postgres", "redis"} <= names
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_unknown_scenario_is_refused_with_the_known_ones() -> None:
    result = subprocess.run(
        [str(RUNBOOK_BOT), "sandbox", "--scenario", "no-such-thing"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "no drill scenario 'no-such-thing'" in result.stderr
    assert "oom-bad-deploy" in result.stderr and "container-crashed" in result.stderr
