"""A scenario's fault and load through the real client: ended only as a real cluster ends them."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import httpx

from bot.drills.kubernetes import Sandbox
from tests.drills.kubernetes.conftest import Kube, wait_until
from tests.drills.kubernetes.test_sandbox_gateway import run

Start = Callable[..., tuple[Sandbox, Kube]]
GATEWAY = "app=api-gateway"


def restart(kube: Kube) -> None:
    """`kubectl rollout restart`: a new template annotation, so new pods."""
    stamp = datetime.datetime.now(datetime.UTC).isoformat()
    annotations = {"kubectl.kubernetes.io/restartedAt": stamp}
    body = {"spec": {"template": {"metadata": {"annotations": annotations}}}}
    kube.apps.patch_namespaced_deployment("api-gateway", "default", body)


def ready(kube: Kube) -> int:
    pods = kube.app_pods(GATEWAY)
    return sum(
        1
        for p in pods
        if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"]["conditions"])
    )


def log(kube: Kube, pod: str) -> str:
    return str(kube.core.read_namespaced_pod_log(pod, "default"))


def test_a_config_edit_reaches_only_pods_started_after_it(start: Start) -> None:
    _, kube = start("gateway-ratelimit-too-low")
    before = kube.app_pods(GATEWAY)[0]["metadata"]["name"]
    assert "429 Too Many Requests" in log(kube, before)
    body = {"data": {"RATELIMIT_REQUESTS_PER_MINUTE": "600"}}
    kube.core.patch_namespaced_config_map("api-gateway-config", "default", body)
    stored = kube.json(kube.core.read_namespaced_config_map, "api-gateway-config", "default")
    assert stored["data"]["RATELIMIT_REQUESTS_PER_MINUTE"] == "600"
    assert stored["data"]["SESSION_TTL"] == "3600"

    # A running container read its environment when it started.
    env, _ = run(kube, before, "env")
    assert "RATELIMIT_REQUESTS_PER_MINUTE=60\n" in env
    assert "429 Too Many Requests" in log(kube, before)

    restart(kube)
    assert wait_until(lambda: before not in {p["metadata"]["name"] for p in kube.app_pods(GATEWAY)})
    assert wait_until(lambda: ready(kube) == 3)
    after = kube.app_pods(GATEWAY)[0]["metadata"]["name"]
    env, _ = run(kube, after, "env")
    assert "RATELIMIT_REQUESTS_PER_MINUTE=600\n" in env
    assert "429" not in log(kube, after)


def test_wedged_pods_are_unready_until_replaced(start: Start) -> None:
    sandbox, kube = start("gateway-5xx-stale-redis")
    assert ready(kube) == 0
    first = kube.app_pods(GATEWAY)[0]["metadata"]["name"]
    assert "redis.exceptions.ConnectionError" in log(kube, first)
    health = httpx.get(str(sandbox.binding()["ready_url"]), timeout=10)
    assert health.status_code == 503
    # Redis itself is up: the pods lost their connections, not the server.
    redis = kube.app_pods("app=redis")[0]
    assert redis["status"]["containerStatuses"][0]["ready"] is True

    kube.core.delete_namespaced_pod(first, "default")
    assert wait_until(lambda: ready(kube) == 1)
    restart(kube)
    assert wait_until(lambda: ready(kube) == 3)
    assert httpx.get(str(sandbox.binding()["ready_url"]), timeout=10).status_code == 200


def within_a_second(url: str) -> float:
    """The share of the requests between two scrapes answered within a second."""

    def sample() -> tuple[float, float]:
        text = httpx.get(url, timeout=10).text
        values = dict(line.rsplit(" ", 1) for line in text.splitlines() if line[:1] != "#")
        fast = values['gateway_request_duration_seconds_bucket{service="api-gateway",le="1.0"}']
        return float(fast), float(
            values['gateway_request_duration_seconds_count{service="api-gateway"}']
        )

    fast, count = sample()
    assert wait_until(lambda: sample()[1] > count + 40, timeout=30)
    later_fast, later_count = sample()
    return (later_fast - fast) / (later_count - count)


def test_load_per_pod_falls_as_replicas_rise(start: Start) -> None:
    sandbox, kube = start("gateway-latency-load")
    metrics = str(sandbox.binding()["metrics_url"])

    def memory() -> set[str]:
        items = kube.json(
            kube.custom.list_namespaced_custom_object,
            "metrics.k8s.io", "v1beta1", "default", "pods", label_selector=GATEWAY,
        )["items"]  # fmt: skip
        return {i["containers"][0]["usage"]["memory"] for i in items}

    assert wait_until(lambda: ready(kube) == 3)
    busy = memory()
    assert len(busy) == 1
    assert within_a_second(metrics) < 0.7
    kube.apps.patch_namespaced_deployment_scale(
        "api-gateway", "default", {"spec": {"replicas": 10}}
    )
    assert wait_until(lambda: ready(kube) == 10)
    calm = memory()
    assert len(calm) == 1
    assert within_a_second(metrics) > 0.95
    assert int(calm.pop().rstrip("Ki")) < int(busy.pop().rstrip("Ki")) * 0.6


def test_a_fault_answers_its_status_in_the_metrics(start: Start) -> None:
    sandbox, _ = start("gateway-auth-brute-force")
    url = str(sandbox.binding()["metrics_url"])

    def failures() -> float:
        text = httpx.get(url, timeout=10).text
        line = next(x for x in text.splitlines() if x.startswith("gateway_auth_failures_total"))
        return float(line.rsplit(" ", 1)[1])

    first = failures()
    assert wait_until(lambda: failures() > first + 20, timeout=30)
