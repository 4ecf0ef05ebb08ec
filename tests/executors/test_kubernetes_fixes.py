"""Kubernetes fixes against the sandbox: dry-run previews, and applying them for real."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from bot.config import ServiceBinding
from bot.drills.kubernetes import Sandbox
from bot.executors.base import WriteAction
from bot.executors.kubernetes import KubernetesExecutor
from bot.executors.kubernetes import params as p


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox.start("oom-bad-deploy", ready_delay=0.0)
    yield sb
    sb.stop()


@pytest.fixture
def kubeconfig(sandbox: Sandbox, tmp_path: Path) -> str:
    return str(sandbox.write_kubeconfig(tmp_path / "kubeconfig"))


@pytest.fixture
def binding(sandbox: Sandbox) -> ServiceBinding:
    return ServiceBinding.model_validate(sandbox.binding()).with_defaults(sandbox.service_name)


@pytest.fixture
async def executor(kubeconfig: str) -> AsyncIterator[KubernetesExecutor]:
    ex = KubernetesExecutor(kubeconfig)
    yield ex
    await ex.close()


@pytest.fixture
def snapshot(kubeconfig: str) -> Iterator[Any]:
    """The live deployment, service and pod names, read with the plain client."""
    cfg = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=kubeconfig, client_configuration=cfg
    )
    api = kubernetes.client.ApiClient(cfg)

    def take() -> dict[str, Any]:
        def read(call: Any, *args: Any, **kwargs: Any) -> Any:
            return json.loads(call(*args, _preload_content=False, **kwargs).data)

        apps, core = kubernetes.client.AppsV1Api(api), kubernetes.client.CoreV1Api(api)
        pods = read(core.list_namespaced_pod, "default", label_selector="app=ecap-api")
        return {
            "deployment": read(apps.read_namespaced_deployment, "ecap-api", "default")["spec"],
            "service": read(core.read_namespaced_service, "ecap-api", "default")["spec"],
            "pods": sorted(pod["metadata"]["name"] for pod in pods["items"]),
        }

    yield take
    api.close()  # type: ignore[no-untyped-call]


async def pods_ready(executor: KubernetesExecutor, binding: ServiceBinding) -> bool:
    """Whether every pod is ready once the sandbox's controller has settled."""
    for _ in range(100):
        result = await executor.check(p.K8sPods(type="k8s.pods"), binding)
        if result.status == "ok":
            return True
        await asyncio.sleep(0.05)
    return False


async def test_previews_change_nothing(
    executor: KubernetesExecutor, binding: ServiceBinding, snapshot: Any
) -> None:
    before = snapshot()
    actions: list[WriteAction] = [
        p.K8sRolloutRestart(type="k8s.rollout_restart"),
        p.K8sScale(type="k8s.scale", replicas=5),
        p.K8sSetImage(type="k8s.set_image", image="ecap/api:2.4.0"),
        p.K8sRolloutUndo(type="k8s.rollout_undo"),
        p.K8sPatchResources(type="k8s.patch_resources", limits={"memory": "2Gi"}),
        p.K8sDeletePod(type="k8s.delete_pod", pod=before["pods"][0]),
        p.K8sPatchServiceSelector(type="k8s.patch_service_selector", selector="app=maintenance"),
    ]
    previews = [await executor.preview(action, binding) for action in actions]
    assert [pv.error for pv in previews] == [None] * len(actions)
    assert snapshot() == before
    restart, scale, image, undo, resources, delete, selector = previews
    assert "restartedAt" in restart.after and restart.before.endswith("<none>")
    assert scale.summary == "scale deployment/ecap-api: replicas 3 -> 5"
    assert scale.diff.splitlines()[-2:] == ["-replicas: 3", "+replicas: 5"]
    assert "ecap/api:2.4.0" in image.after
    assert undo.summary.startswith("roll back deployment/ecap-api to revision 2:")
    assert "limits.memory: 2Gi" in resources.after
    assert "would be deleted; its controller recreates it" in delete.summary
    assert (selector.before, selector.after) == ("app: ecap-api", "app: maintenance")


async def test_undo_cures_the_oom(
    sandbox: Sandbox, executor: KubernetesExecutor, binding: ServiceBinding
) -> None:
    undo = await executor.apply(p.K8sRolloutUndo(type="k8s.rollout_undo"), binding)
    assert undo.status == "ok", undo.summary
    assert "ecap/api:2.5.0 -> ecap/api:2.4.0" in undo.summary
    assert await pods_ready(executor, binding)
    assert sandbox.healthy()


async def test_restart_does_not_cure_the_oom(
    sandbox: Sandbox, executor: KubernetesExecutor, binding: ServiceBinding, snapshot: Any
) -> None:
    old_pods = set(snapshot()["pods"])
    restart = await executor.apply(p.K8sRolloutRestart(type="k8s.rollout_restart"), binding)
    assert restart.status == "ok" and "restartedAt" in restart.summary
    for _ in range(200):
        if not old_pods & set(snapshot()["pods"]):
            break
        await asyncio.sleep(0.05)
    result = await executor.check(p.K8sPods(type="k8s.pods"), binding)
    assert result.status == "problem"
    assert not sandbox.healthy()


async def test_undo_to_a_missing_revision_lists_the_available_ones(
    executor: KubernetesExecutor, binding: ServiceBinding
) -> None:
    result = await executor.apply(p.K8sRolloutUndo(type="k8s.rollout_undo", to_revision=9), binding)
    assert result.status == "error"
    assert result.summary == "deployment/ecap-api has no revision 9 (available: 1, 2, 3)"


async def test_set_image_to_last_known_good(
    sandbox: Sandbox, executor: KubernetesExecutor, binding: ServiceBinding
) -> None:
    image = binding.last_known_good_image or ""
    result = await executor.apply(p.K8sSetImage(type="k8s.set_image", image=image), binding)
    assert result.status == "ok" and image in result.summary
    assert await pods_ready(executor, binding)


async def test_scale_and_service_selector(
    executor: KubernetesExecutor, binding: ServiceBinding, snapshot: Any
) -> None:
    scaled = await executor.apply(p.K8sScale(type="k8s.scale", replicas=5), binding)
    assert scaled.summary == "scale deployment/ecap-api: replicas 3 -> 5"
    assert snapshot()["deployment"]["replicas"] == 5
    away = p.K8sPatchServiceSelector(
        type="k8s.patch_service_selector", selector="app=maintenance,tier=web"
    )
    assert (await executor.apply(away, binding)).status == "ok"
    assert snapshot()["service"]["selector"] == {"app": "maintenance", "tier": "web"}
    back = p.K8sPatchServiceSelector(type="k8s.patch_service_selector", selector="app=ecap-api")
    assert (await executor.apply(back, binding)).status == "ok"
    assert snapshot()["service"]["selector"] == {"app": "ecap-api"}


async def test_delete_pod(
    executor: KubernetesExecutor, binding: ServiceBinding, snapshot: Any
) -> None:
    victim = snapshot()["pods"][0]
    result = await executor.apply(p.K8sDeletePod(type="k8s.delete_pod", pod=victim), binding)
    assert result.status == "ok" and "its controller recreates it" in result.summary
    assert victim not in snapshot()["pods"]


async def test_a_raise_of_resources_never_lowers_them(
    executor: KubernetesExecutor, binding: ServiceBinding, snapshot: Any
) -> None:
    """The runbook's amounts are floors: 256Mi/512Mi go up to them, 2Gi is not cut to 1Gi."""
    floors = p.K8sPatchResources(
        type="k8s.patch_resources",
        only_raise=True,
        requests={"memory": "1Gi", "cpu": "500m"},
        limits={"memory": "2Gi", "cpu": "1000m"},
    )
    preview = await executor.preview(floors, binding)
    assert preview.error is None
    assert "limits.memory 512Mi -> 2Gi" in preview.summary
    assert "requests.memory: 256Mi" in preview.before and "requests.memory: 1Gi" in preview.after
    assert (await executor.apply(floors, binding)).status == "ok"
    resources = snapshot()["deployment"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["limits"]["memory"] == "2Gi"

    lower = p.K8sPatchResources(
        type="k8s.patch_resources", only_raise=True, limits={"memory": "1Gi"}
    )
    refused = await executor.preview(lower, binding)
    assert refused.error == "nothing to raise: limits.memory is 2Gi, not below 1Gi"
    assert snapshot()["deployment"]["template"]["spec"]["containers"][0]["resources"] == resources


async def test_a_factor_raises_every_current_amount(
    executor: KubernetesExecutor, binding: ServiceBinding
) -> None:
    """x2 of requests 250m/256Mi and limits 500m/512Mi, shown before -> after in the dry run."""
    double = p.K8sPatchResources(type="k8s.patch_resources", only_raise=True, factor_percent=200)
    preview = await executor.preview(double, binding)
    assert preview.error is None
    assert "requests.cpu 250m -> 500m" in preview.summary
    assert "requests.memory: 256Mi" in preview.before and "requests.memory: 512Mi" in preview.after
    assert "limits.memory: 1Gi" in preview.after and "limits.cpu: 1" in preview.after
    half = p.K8sPatchResources(type="k8s.patch_resources", only_raise=True, factor_percent=150)
    assert "limits.memory 512Mi -> 768Mi" in (await executor.preview(half, binding)).summary
    assert await pods_ready(executor, binding) is False, "previews change nothing"
    assert (await executor.apply(double, binding)).status == "ok"
    assert await pods_ready(executor, binding), "2.5.0 needs 900Mi: a 1Gi limit cures the OOM"
