"""Writes through the real kubernetes client, and how the cluster reacts to them."""

from __future__ import annotations

import datetime
from typing import Any

import httpx
import kubernetes
import pytest

from bot.drills.kubernetes import Sandbox
from tests.drills.kubernetes.conftest import Kube, wait_until

STRATEGIC = "application/strategic-merge-patch+json"


def _revisions(kube: Kube) -> dict[str, dict[str, Any]]:
    sets = kube.json(
        kube.apps.list_namespaced_replica_set, "default", label_selector="app=ecap-api"
    )
    return {
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs
        for rs in sets["items"]
    }


def _set_image(kube: Kube, image: str, **kwargs: Any) -> dict[str, Any]:
    body = {"spec": {"template": {"spec": {"containers": [{"name": "ecap-api", "image": image}]}}}}
    return kube.json(  # type: ignore[no-any-return]
        kube.apps.patch_namespaced_deployment,
        "ecap-api",
        "default",
        body,
        _content_type=STRATEGIC,
        **kwargs,
    )


def _health(sandbox: Sandbox) -> httpx.Response:
    return httpx.get(sandbox.binding()["health_url"])  # type: ignore[arg-type]


def test_dry_run_patch_changes_nothing(oom: tuple[Sandbox, Kube]) -> None:
    _, kube = oom
    before = {p["metadata"]["name"] for p in kube.app_pods()}
    result = _set_image(kube, "ecap/api:2.4.0", dry_run="All")
    container = result["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ecap/api:2.4.0"
    assert container["env"], "strategic merge keeps the container's other fields"
    assert {p["metadata"]["name"] for p in kube.app_pods()} == before
    assert set(_revisions(kube)) == {"1", "2", "3"}


def test_set_good_image_reuses_old_rs_and_cures(oom: tuple[Sandbox, Kube]) -> None:
    sandbox, kube = oom
    before = {p["metadata"]["name"] for p in kube.app_pods()}
    assert _health(sandbox).status_code == 503
    result = _set_image(kube, "ecap/api:2.4.0")
    assert result["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"
    revisions = _revisions(kube)
    assert set(revisions) == {"1", "3", "4"}
    assert revisions["4"]["spec"]["template"]["spec"]["containers"][0]["image"] == "ecap/api:2.4.0"
    pods = kube.app_pods()
    assert not before & {p["metadata"]["name"] for p in pods}
    waiting = pods[0]["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "ContainerCreating"
    assert wait_until(sandbox.healthy)
    body = _health(sandbox).json()
    assert body == {"status": "healthy", "dependencies": {"postgres": "up", "redis": "up"}}
    dep = kube.apps.read_namespaced_deployment("ecap-api", "default")
    assert dep.status is not None and dep.metadata is not None
    assert (
        dep.status.ready_replicas == 3 and dep.metadata.generation == dep.status.observed_generation
    )


def test_rollout_restart_does_not_cure(oom: tuple[Sandbox, Kube]) -> None:
    sandbox, kube = oom
    stamp = datetime.datetime.now(datetime.UTC).isoformat()
    body = {
        "spec": {
            "template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}
        }
    }
    kube.apps.patch_namespaced_deployment("ecap-api", "default", body, _content_type=STRATEGIC)
    assert "4" in _revisions(kube)

    def crashing() -> bool:
        statuses = [p["status"].get("containerStatuses", [{}])[0] for p in kube.app_pods()]
        return all(s.get("lastState", {}).get("terminated") for s in statuses)

    assert wait_until(crashing)
    assert not sandbox.healthy()


def test_undo_cures_and_invalid_patch_is_refused(start: Any) -> None:
    sandbox, kube = start()
    good = _revisions(kube)["2"]["spec"]["template"]
    good["metadata"]["labels"].pop("pod-template-hash")
    kube.apps.patch_namespaced_deployment(
        "ecap-api",
        "default",
        [{"op": "replace", "path": "/spec/template", "value": good}],
        _content_type="application/json-patch+json",
    )
    assert wait_until(sandbox.healthy)

    sandbox, kube = start()
    limits = {"name": "ecap-api", "resources": {"limits": {"memory": "1Gi"}}}
    body = {"spec": {"template": {"spec": {"containers": [limits]}}}}
    # a merge patch replaces the whole container list, dropping the image: refused
    with pytest.raises(kubernetes.client.ApiException) as err:
        kube.apps.patch_namespaced_deployment(
            "ecap-api", "default", body, _content_type="application/merge-patch+json"
        )
    assert err.value.status == 422 and err.value.body is not None
    assert "containers[0].image: Required value" in err.value.body
    assert set(_revisions(kube)) == {"1", "2", "3"}


def test_raise_memory_limit_cures(oom: tuple[Sandbox, Kube]) -> None:
    sandbox, kube = oom
    resources = {"requests": {"memory": "1Gi"}, "limits": {"memory": "2Gi"}}
    body = {
        "spec": {
            "template": {"spec": {"containers": [{"name": "ecap-api", "resources": resources}]}}
        }
    }
    kube.apps.patch_namespaced_deployment("ecap-api", "default", body, _content_type=STRATEGIC)
    assert wait_until(sandbox.healthy)


def test_scale_subresource(oom: tuple[Sandbox, Kube]) -> None:
    _, kube = oom
    scale = kube.apps.read_namespaced_deployment_scale("ecap-api", "default")
    assert scale.spec is not None and scale.status is not None
    assert scale.spec.replicas == 3 and scale.status.selector == "app=ecap-api"
    kube.apps.patch_namespaced_deployment_scale(
        "ecap-api", "default", {"spec": {"replicas": 5}}, _content_type=STRATEGIC
    )
    assert len(kube.app_pods()) == 5
    kube.apps.patch_namespaced_deployment_scale(
        "ecap-api", "default", {"spec": {"replicas": 2}}, _content_type=STRATEGIC
    )
    assert len(kube.app_pods()) == 2
    assert kube.apps.read_namespaced_deployment("ecap-api", "default").spec.replicas == 2


def test_endpoints_follow_readiness_and_selector(oom: tuple[Sandbox, Kube]) -> None:
    sandbox, kube = oom
    lb = str(sandbox.binding()["load_balancer_url"])
    endpoints = kube.json(kube.core.read_namespaced_endpoints, "ecap-api", "default")
    assert len(endpoints["subsets"][0]["notReadyAddresses"]) == 3
    assert "addresses" not in endpoints["subsets"][0]
    assert httpx.get(lb).status_code == 503
    _set_image(kube, "ecap/api:2.4.0")
    assert wait_until(lambda: httpx.get(lb).status_code == 200)
    endpoints = kube.json(kube.core.read_namespaced_endpoints, "ecap-api", "default")
    assert len(endpoints["subsets"][0]["addresses"]) == 3
    selector = {"spec": {"selector": {"app": "maintenance"}}}
    kube.core.patch_namespaced_service("ecap-api", "default", selector, _content_type=STRATEGIC)
    assert kube.json(kube.core.read_namespaced_endpoints, "ecap-api", "default")["subsets"] == []
    assert httpx.get(lb).status_code == 503
    assert not sandbox.healthy()
