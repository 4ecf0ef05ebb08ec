"""The k8s.cluster_info read: does the API server answer, and which version is it."""

from __future__ import annotations

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Finding
from bot.executors.kubernetes.client import KubeClient
from bot.executors.kubernetes.failure import KubeError
from bot.executors.kubernetes.params import K8sClusterInfo
from bot.executors.params import url_for_display


async def read_cluster_info(
    kube: KubeClient, action: K8sClusterInfo, target: ServiceBinding
) -> CheckResult:
    try:
        info = await kube.obj("version", "get_code", what="the API server's version")
    except KubeError as exc:
        # An HTTP answer, even a refusal, means the server is up; only no answer is unreachable.
        reachable = exc.status is not None
        return CheckResult(
            status="problem",
            summary=str(exc),
            findings=[Finding(name="cluster.reachable", value=reachable)],
        )
    server = url_for_display(kube.server)
    version = str(info.get("gitVersion") or f"v{info.get('major', '?')}.{info.get('minor', '?')}")
    output = f"Kubernetes control plane is running at {server}\nServer version: {version}"
    if info.get("platform"):
        output += f" ({info['platform']})"
    return CheckResult(
        status="ok",
        summary=f"API server at {server} answers: Kubernetes {version}",
        output=output,
        findings=[
            Finding(name="cluster.reachable", value=True),
            Finding(name="cluster.version", value=version),
        ],
    )
