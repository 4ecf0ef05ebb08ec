"""The gateway drills and the new fixes (set_env, patch_hpa) through the real client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import kubernetes
import pytest

from bot.config import ServiceBinding
from bot.drills.kubernetes import Sandbox
from bot.executors.kubernetes import KubernetesExecutor
from bot.executors.kubernetes import params as p
from tests.support.findings import values


class Started:
    def __init__(self, sandbox: Sandbox, kubeconfig: Path) -> None:
        self.sandbox = sandbox
        self.executor = KubernetesExecutor(str(kubeconfig))
        self.binding = ServiceBinding.model_validate(sandbox.binding()).with_defaults(
            sandbox.service_name
        )
        cfg = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig), client_configuration=cfg
        )
        self._api = kubernetes.client.ApiClient(cfg)

    def read(self, call: str, *args: Any) -> Any:
        """The live object, read with the plain client."""
        apis = {
            "apps": kubernetes.client.AppsV1Api(self._api),
            "autoscaling": kubernetes.client.AutoscalingV2Api(self._api),
        }
        group, method = call.split(".")
        return json.loads(getattr(apis[group], method)(*args, _preload_content=False).data)

    def deployment(self) -> Any:
        """The deployment without its status, which carries the time it was read."""
        found = self.read("apps.read_namespaced_deployment", "api-gateway", "default")
        return {"metadata": found["metadata"], "spec": found["spec"]}

    def hpa_spec(self) -> Any:
        name = "read_namespaced_horizontal_pod_autoscaler"
        return self.read(f"autoscaling.{name}", "api-gateway", "default")["spec"]

    async def pods_ready(self) -> bool:
        for _ in range(100):
            if (await self.executor.check(p.K8sPods(type="k8s.pods"), self.binding)).status == "ok":
                return True
            await asyncio.sleep(0.05)
        return False

    async def close(self) -> None:
        await self.executor.close()
        self._api.close()  # type: ignore[no-untyped-call]
        self.sandbox.stop()


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Callable[[str], Started]]:
    running: list[Started] = []

    def _start(scenario: str) -> Started:
        sandbox = Sandbox.start(scenario, ready_delay=0.0)
        running.append(Started(sandbox, sandbox.write_kubeconfig(tmp_path / f"k{len(running)}")))
        return running[-1]

    yield _start
    for started in running:
        await started.close()


def env_of(deployment: Any) -> dict[str, Any]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {v["name"]: v.get("value", v.get("valueFrom")) for v in container.get("env", [])}


async def test_gateway_crashloop_shows_and_rollback_heals(
    start: Callable[[str], Started],
) -> None:
    gw = start("gateway-crashloop")
    pods = await gw.executor.check(p.K8sPods(type="k8s.pods"), gw.binding)
    assert pods.status == "problem"
    assert values(pods, "pod.waiting_reason") == ["CrashLoopBackOff"] * 3
    assert values(pods, "pod.last_termination_reason") == ["Error"] * 3
    logs = await gw.executor.check(p.K8sLogs(type="k8s.logs", previous=True), gw.binding)
    assert "KeyError: 'SESSION_SECRET'" in logs.output
    assert gw.binding.container == "gateway" and gw.binding.deployment == "api-gateway"
    ready_url, live_url = str(gw.binding.ready_url), str(gw.binding.live_url)
    async with httpx.AsyncClient() as http:
        assert (await http.get(ready_url)).status_code == 503
        assert (await http.get(live_url)).status_code == 503
        metrics = (await http.get(str(gw.binding.metrics_url))).text
    assert 'gateway_requests_total{service="api-gateway",status="503"}' in metrics

    undo = await gw.executor.apply(p.K8sRolloutUndo(type="k8s.rollout_undo"), gw.binding)
    assert undo.status == "ok", undo.summary
    assert "example/api-gateway:v0.2.0 -> example/api-gateway:v0.1.0" in undo.summary
    assert await gw.pods_ready()
    assert gw.sandbox.healthy()
    async with httpx.AsyncClient() as http:
        assert (await http.get(ready_url)).status_code == 200
        assert (await http.get(live_url)).status_code == 200
    env = await gw.executor.check(p.K8sExec(type="k8s.exec", command=["env"]), gw.binding)
    assert env.status == "ok" and "SESSION_TTL=3600" in env.output
    assert "JWT_SIGNING_KEY=[redacted]" in env.output
    assert not [s for s in gw.sandbox.secret_values() if s in env.model_dump_json()]


async def test_gateway_image_pull_shows_and_set_image_heals(
    start: Callable[[str], Started],
) -> None:
    gw = start("gateway-image-pull")
    pods = await gw.executor.check(p.K8sPods(type="k8s.pods"), gw.binding)
    assert pods.status == "problem" and "ImagePullBackOff" in pods.summary
    assert values(pods, "pod.waiting_reason") == ["ImagePullBackOff"] * 3
    assert values(pods, "pod.phase") == ["Pending"] * 3
    events = await gw.executor.check(p.K8sEvents(type="k8s.events", limit=100), gw.binding)
    assert {"Failed", "BackOff"} <= set(values(events, "event.reason"))
    assert any("example/api-gateway:v0.2.1" in m for m in values(events, "event.message"))

    image = gw.binding.last_known_good_image or ""
    fix = p.K8sSetImage(type="k8s.set_image", image=image)
    result = await gw.executor.apply(fix, gw.binding)
    assert result.status == "ok", result.summary
    assert "containers[gateway].image" in result.summary
    assert await gw.pods_ready()
    assert gw.sandbox.healthy()


async def test_set_env_previews_then_applies(start: Callable[[str], Started]) -> None:
    gw = start("gateway-crashloop")
    live = gw.deployment()
    fix = p.K8sSetEnv(type="k8s.set_env", env={"LOG_LEVEL": "debug", "GATEWAY_PORT": "9090"})
    preview = await gw.executor.preview(fix, gw.binding)
    assert preview.error is None, preview.summary
    assert gw.deployment() == live
    assert "containers[gateway].env[LOG_LEVEL]: <none>" in preview.before
    assert "containers[gateway].env[LOG_LEVEL]: debug" in preview.after
    assert "-containers[gateway].env[GATEWAY_PORT]: 8080" in preview.diff
    assert "+containers[gateway].env[GATEWAY_PORT]: 9090" in preview.diff

    applied = await gw.executor.apply(fix, gw.binding)
    assert applied.status == "ok", applied.summary
    env = env_of(gw.deployment())
    assert env["LOG_LEVEL"] == "debug" and env["GATEWAY_PORT"] == "9090"
    assert env["REDIS_URL"].startswith("redis://")
    status = await gw.executor.check(p.K8sRolloutHistory(type="k8s.rollout_history"), gw.binding)
    assert values(status, "rollout.revision") == [3]


async def test_set_env_replaces_a_secret_reference_and_hides_the_value(
    start: Callable[[str], Started],
) -> None:
    gw = start("gateway-crashloop")
    fix = p.K8sSetEnv(type="k8s.set_env", env={"JWT_SIGNING_KEY": "literal-Z9q8w7e6"})
    preview = await gw.executor.preview(fix, gw.binding)
    applied = await gw.executor.apply(fix, gw.binding)
    assert applied.status == "ok", applied.summary
    assert env_of(gw.deployment())["JWT_SIGNING_KEY"] == "literal-Z9q8w7e6"
    for shown in (preview.model_dump_json(), applied.model_dump_json()):
        assert "literal-Z9q8w7e6" not in shown
    assert "secretKeyRef" in preview.before


async def test_set_env_on_a_missing_container_changes_nothing(
    start: Callable[[str], Started],
) -> None:
    gw = start("gateway-crashloop")
    live = gw.deployment()
    fix = p.K8sSetEnv(type="k8s.set_env", container="nope", env={"A": "1"})
    result = await gw.executor.apply(fix, gw.binding)
    assert result.status == "error"
    assert result.summary == "no container nope in deployment/api-gateway (containers: gateway)"
    assert gw.deployment() == live


async def test_patch_hpa_previews_then_applies(start: Callable[[str], Started]) -> None:
    gw = start("gateway-crashloop")
    live = gw.hpa_spec()
    fix = p.K8sPatchHpa(type="k8s.patch_hpa", max_replicas=20, cpu_target_percent=50)
    preview = await gw.executor.preview(fix, gw.binding)
    assert preview.error is None, preview.summary
    assert gw.hpa_spec() == live
    assert preview.summary == "patch hpa/api-gateway: cpu target 70% -> 50%, maxReplicas 10 -> 20"
    assert "-maxReplicas: 10" in preview.diff and "+maxReplicas: 20" in preview.diff

    applied = await gw.executor.apply(fix, gw.binding)
    assert applied.status == "ok"
    spec = gw.hpa_spec()
    assert spec["maxReplicas"] == 20 and spec["minReplicas"] == 3
    assert spec["metrics"][0]["resource"]["target"]["averageUtilization"] == 50
    raised = p.K8sPatchHpa(type="k8s.patch_hpa", min_replicas=5)
    assert (await gw.executor.apply(raised, gw.binding)).status == "ok"
    assert gw.deployment()["spec"]["replicas"] == 5


async def test_patch_hpa_refused_by_the_server_changes_nothing(
    start: Callable[[str], Started],
) -> None:
    gw = start("gateway-crashloop")
    live = gw.hpa_spec()
    fix = p.K8sPatchHpa(type="k8s.patch_hpa", max_replicas=2)
    preview = await gw.executor.preview(fix, gw.binding)
    assert preview.error and "must be greater than or equal to minReplicas" in preview.error
    result = await gw.executor.apply(fix, gw.binding)
    assert result.status == "error" and "\n" not in result.summary
    missing = p.K8sPatchHpa(type="k8s.patch_hpa", name="nope", max_replicas=4)
    gone = await gw.executor.apply(missing, gw.binding)
    assert gone.summary == "not found: horizontalpodautoscaler nope in namespace default"
    assert gw.hpa_spec() == live
