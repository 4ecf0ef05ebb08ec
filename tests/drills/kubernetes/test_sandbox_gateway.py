"""The sandbox's newer surface through the real client: exec, HPAs, volumes, version, metrics."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import httpx
import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream

from bot.drills.kubernetes import Sandbox, scenarios_for
from bot.drills.kubernetes.scenario import load_scenario
from tests.drills.kubernetes.conftest import Kube, wait_until

Start = Callable[..., tuple[Sandbox, Kube]]


def run(kube: Kube, pod: str, *command: str, container: str | None = None) -> tuple[str, str]:
    """(stdout+stderr, error-channel Status) of one exec."""
    extra = {"container": container} if container else {}
    client = stream(kube.core.connect_get_namespaced_pod_exec, pod, "default",
                    command=list(command), stderr=True, stdout=True, stdin=False, tty=False,
                    _preload_content=False, **extra)  # fmt: skip
    try:
        client.run_forever(timeout=10)
        assert not client.is_open()
        status = client.read_channel(3)
        return client.read_all(), status
    finally:
        client.close()
        # close() leaves the socket open once the server has closed the websocket.
        client.sock.shutdown()


def test_gateway_scenario_replaces_the_base_service() -> None:
    scenario = load_scenario("gateway-crashloop")
    assert scenario.playbook == "api-gateway-down"
    assert scenario.service.container_name == "gateway"
    assert sorted(scenario.dependencies) == ["post-service", "redis", "user-service"]
    assert not [i for i in scenario.images if i.startswith("ecap/")]
    assert "DATABASE_PASSWORD" not in scenario.service.config
    assert "SESSION_TTL" in scenario.service.config
    pull = load_scenario("gateway-image-pull")
    assert pull.images["example/api-gateway:v0.2.1"].pull == "fail"
    assert pull.service.name == "api-gateway"
    assert scenarios_for("api-gateway-down") == ["gateway-crashloop", "gateway-image-pull"]
    assert "oom-bad-deploy" in scenarios_for("api-down")


def test_gateway_objects(start: Start) -> None:
    sandbox, kube = start("gateway-crashloop")
    pods = kube.app_pods("app=api-gateway")
    assert len(pods) == 3
    assert {p["spec"]["containers"][0]["name"] for p in pods} == {"gateway"}
    cm = kube.json(kube.core.read_namespaced_config_map, "api-gateway-config", "default")
    assert cm["data"]["RATELIMIT_REQUESTS_PER_MINUTE"] == "600"
    secret = kube.json(kube.core.read_namespaced_secret, "api-gateway-secrets", "default")
    assert "SESSION_SECRET" in secret["data"]
    names = {p["metadata"]["name"] for p in kube.app_pods("app in (user-service,post-service)")}
    assert names == {"user-service-0", "post-service-0"}
    binding = sandbox.binding()
    assert binding["container"] == "gateway"
    assert str(binding["live_url"]).endswith("/_sandbox/health/api-gateway/live")
    deps = binding["dependencies"]
    assert deps["redis"]["url"].startswith("redis://127.0.0.1:")  # type: ignore[index]
    assert deps["user-service"]["selector"] == "app=user-service"  # type: ignore[index]


def test_image_pull_failure_pods(start: Start) -> None:
    _, kube = start("gateway-image-pull")
    for pod in kube.app_pods("app=api-gateway"):
        status = pod["status"]["containerStatuses"][0]
        assert status["state"]["waiting"]["reason"] == "ImagePullBackOff"
        assert "example/api-gateway:v0.2.1" in status["state"]["waiting"]["message"]
        assert not status["ready"] and pod["status"]["phase"] == "Pending"
        with pytest.raises(ApiException) as caught:
            kube.core.read_namespaced_pod_log(pod["metadata"]["name"], "default")
        assert caught.value.status == 400


def test_exec_over_websocket(start: Start) -> None:
    _, kube = start("database-down")
    pod = kube.app_pods()[0]["metadata"]["name"]
    output, status = run(kube, pod, "redis-cli", "-h", "redis", "ping")
    assert (output, json.loads(status)["status"]) == ("PONG\n", "Success")
    output, status = run(kube, pod, "nc", "-zv", "postgres", "5432")
    assert "Connection refused" in output
    assert json.loads(status)["details"]["causes"][0] == {"reason": "ExitCode", "message": "1"}
    output, _ = run(kube, pod, "cat", "/etc/hostname")
    assert output == f"{pod}\n"
    output, _ = run(kube, pod, "curl", "-I", "http://localhost:8080/health")
    assert output.startswith("HTTP/1.1 503 Service Unavailable")
    output, _ = run(kube, pod, "curl", "-sI", "http://ecap-api.default.svc.cluster.local/")
    assert (
        output == "curl: (7) Failed to connect to ecap-api.default.svc.cluster.local port 80: "
        "Connection refused\n"
    )


def test_exec_refused_before_the_upgrade(start: Start) -> None:
    _, kube = start()
    with pytest.raises(ApiException, match="404"):
        run(kube, "nope-0", "env")
    crashing = kube.app_pods()[0]["metadata"]["name"]
    with pytest.raises(ApiException, match="container not found"):
        run(kube, crashing, "env")
    with pytest.raises(ApiException, match="not valid"):
        run(kube, "redis-0", "env", container="other")


def test_hpa_dry_run_and_validation(start: Start) -> None:
    _, kube = start("gateway-crashloop")
    api = kubernetes.client.AutoscalingV2Api(kube.api)
    hpa = kube.json(api.read_namespaced_horizontal_pod_autoscaler, "api-gateway", "default")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 10)
    assert hpa["status"]["currentReplicas"] == 3
    dry = kube.json(api.patch_namespaced_horizontal_pod_autoscaler, "api-gateway", "default",
                    {"spec": {"maxReplicas": 4}}, dry_run="All")  # fmt: skip
    assert dry["spec"]["maxReplicas"] == 4
    again = kube.json(api.read_namespaced_horizontal_pod_autoscaler, "api-gateway", "default")
    assert again["spec"]["maxReplicas"] == 10
    with pytest.raises(ApiException) as caught:
        api.patch_namespaced_horizontal_pod_autoscaler(
            "api-gateway", "default", {"spec": {"minReplicas": 11}}
        )
    assert caught.value.status == 422
    listed = kube.json(api.list_namespaced_horizontal_pod_autoscaler, "default")
    assert [h["metadata"]["name"] for h in listed["items"]] == ["api-gateway"]


def test_volumes_version_and_log_window(start: Start) -> None:
    _, kube = start()
    claims = kube.json(kube.core.list_namespaced_persistent_volume_claim, "default")["items"]
    volumes = kube.json(kube.core.list_persistent_volume)["items"]
    assert [c["spec"]["volumeName"] for c in claims] == [v["metadata"]["name"] for v in volumes]
    assert volumes[0]["spec"]["claimRef"]["name"] == "data-postgres-0"
    assert kubernetes.client.VersionApi(kube.api).get_code().git_version == "v1.37.2"
    crashing = kube.app_pods()[0]["metadata"]["name"]
    # The previous container's lines are about a minute old.
    log = kube.core.read_namespaced_pod_log
    assert log(crashing, "default", previous=True, since_seconds=600).strip()
    assert log(crashing, "default", previous=True, since_seconds=30) == ""


def _sample(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, name
    return float(match[1])


def test_metrics_follow_the_service_health(start: Start) -> None:
    sandbox, kube = start("gateway-crashloop")
    url = str(sandbox.binding()["metrics_url"])
    failing = 'gateway_requests_total{service="api-gateway",status="503"}'
    ok = 'gateway_requests_total{service="api-gateway",status="200"}'
    first = httpx.get(url)
    assert first.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE gateway_request_duration_seconds histogram" in first.text
    assert "gateway_ratelimit_exceeded_total" in first.text
    assert "gateway_auth_failures_total" in first.text
    assert 'gateway_upstream_errors_total{service="api-gateway",upstream="user-service"}' in (
        first.text
    )
    assert wait_until(lambda: _sample(httpx.get(url).text, failing) > _sample(first.text, failing))
    assert _sample(httpx.get(url).text, ok) == _sample(first.text, ok)
    image = "example/api-gateway:v0.1.0"
    body = {"spec": {"template": {"spec": {"containers": [{"name": "gateway", "image": image}]}}}}
    kube.apps.patch_namespaced_deployment("api-gateway", "default", body)
    assert wait_until(sandbox.healthy)
    healed = httpx.get(url).text
    assert wait_until(lambda: _sample(httpx.get(url).text, ok) > _sample(healed, ok))
