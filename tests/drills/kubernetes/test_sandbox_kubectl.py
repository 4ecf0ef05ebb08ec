"""The real kubectl against the sandbox: TLS with the token, discovery, the server's columns."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx

from bot.drills.kubernetes import Sandbox
from bot.drills.kubernetes.discovery import AGGREGATED
from tests.drills.kubernetes.conftest import Kube
from tests.support.real_cluster import KUBECTL


def _kubectl(sandbox: Sandbox, tmp_path: Path, *args: str) -> str:
    kubeconfig = sandbox.write_kubeconfig(tmp_path / "kubeconfig")
    command = [KUBECTL, f"--kubeconfig={kubeconfig}", f"--cache-dir={tmp_path / 'cache'}"]
    out = subprocess.run([*command, *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_kubectl_gets_pods_with_the_servers_columns(
    start: Callable[..., tuple[Sandbox, Kube]], tmp_path: Path
) -> None:
    sandbox, _ = start("oom-bad-deploy", ready_delay=0.0)
    lines = _kubectl(sandbox, tmp_path, "get", "pods", "-l", "app=ecap-api").splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert len(lines) == 4
    assert all(line.split()[1:3] == ["0/1", "CrashLoopBackOff"] for line in lines[1:])
    resources = _kubectl(sandbox, tmp_path, "api-resources", "-o", "name").split()
    assert {"pods", "deployments.apps", "horizontalpodautoscalers.autoscaling"} <= set(resources)


def test_discovery_answers_aggregated_or_legacy(
    start: Callable[..., tuple[Sandbox, Kube]],
) -> None:
    sandbox, _ = start("oom-bad-deploy", ready_delay=0.0)
    auth = {"Authorization": f"Bearer {sandbox.token}"}
    # The certificate the kubeconfig carries is valid for the sandbox's address.
    trusted = ssl.create_default_context(cadata=sandbox.certificate.pem.decode())
    with httpx.Client(verify=trusted, headers=auth) as client:
        aggregated = client.get(f"{sandbox.api_url}/apis", headers={"Accept": AGGREGATED})
        assert aggregated.headers["content-type"] == AGGREGATED
        groups = [item["metadata"]["name"] for item in aggregated.json()["items"]]
        assert groups[:2] == ["apps", "autoscaling"]
        legacy = client.get(f"{sandbox.api_url}/api/v1").json()
        assert legacy["kind"] == "APIResourceList"
        assert {"pods", "pods/log", "pods/exec"} <= {r["name"] for r in legacy["resources"]}
        assert client.get(f"{sandbox.api_url}/api").json()["versions"] == ["v1"]
    # Without the token, over either protocol, the API refuses; the sandbox's pages stay open.
    assert httpx.get(f"{sandbox.api_url}/api", verify=trusted).status_code == 401
    assert httpx.get(f"{sandbox.url}/api").status_code == 401
    assert httpx.get(f"{sandbox.url}/_sandbox/health/ecap-api").status_code == 503
