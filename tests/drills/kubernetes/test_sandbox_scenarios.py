"""The other scenarios, the dependency listeners and the foreground entry point."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import kubernetes
import pytest
import redis

from bot.drills.kubernetes import Sandbox
from tests.drills.kubernetes.conftest import Kube, wait_until


def _connects(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def test_pending_resources(start: Any) -> None:
    sandbox, kube = start("pending-resources")
    pods = kube.app_pods()
    assert pods and all(p["status"]["phase"] == "Pending" for p in pods)
    scheduled = pods[0]["status"]["conditions"][0]
    assert scheduled["type"] == "PodScheduled" and scheduled["status"] == "False"
    events = kube.json(
        kube.core.list_namespaced_event,
        "default",
        field_selector=f"involvedObject.name={pods[0]['metadata']['name']}",
    )["items"]
    failed = [e for e in events if e["reason"] == "FailedScheduling"]
    assert failed[0]["message"] == "0/3 nodes are available: 3 Insufficient memory."
    assert not sandbox.healthy()


def test_database_down_and_delete_postgres(start: Any) -> None:
    sandbox, kube = start("database-down")
    deps = sandbox.binding()["dependencies"]
    port = deps["postgres"]["port"]
    assert not _connects(port)
    pods = kube.app_pods()
    assert all(p["status"]["phase"] == "Running" for p in pods)
    assert not any(p["status"]["containerStatuses"][0]["ready"] for p in pods)
    health = httpx.get(str(sandbox.binding()["health_url"]))
    assert health.status_code == 503
    assert health.json() == {
        "status": "unhealthy",
        "dependencies": {"postgres": "down", "redis": "up"},
    }
    text = kube.core.read_namespaced_pod_log(pods[0]["metadata"]["name"], "default")
    assert "could not connect to database: connection refused" in text
    assert "could not open lock file" in kube.core.read_namespaced_pod_log("postgres-0", "default")

    dry = kube.json(kube.core.delete_namespaced_pod, "postgres-0", "default", dry_run="All")
    assert dry["metadata"]["deletionTimestamp"]
    old_uid = kube.app_pods("app=postgres")[0]["metadata"]["uid"]
    kube.core.delete_namespaced_pod("postgres-0", "default")
    (postgres,) = kube.app_pods("app=postgres")
    assert postgres["metadata"]["name"] == "postgres-0" and postgres["metadata"]["uid"] != old_uid
    assert wait_until(sandbox.healthy)
    assert wait_until(lambda: _connects(port))


def test_deleted_deployment_pod_is_replaced(oom: tuple[Sandbox, Kube]) -> None:
    _, kube = oom
    victim = kube.app_pods()[0]["metadata"]["name"]
    kube.core.delete_namespaced_pod(victim, "default")
    names = {p["metadata"]["name"] for p in kube.app_pods()}
    assert len(names) == 3 and victim not in names
    with pytest.raises(kubernetes.client.ApiException) as err:
        kube.core.delete_namespaced_pod(victim, "default")
    assert err.value.status == 404


def test_redis_listener_speaks_resp(oom: tuple[Sandbox, Kube]) -> None:
    sandbox, _ = oom
    url = sandbox.binding()["dependencies"]["redis"]["url"]  # type: ignore[index]
    client = redis.Redis.from_url(url)
    try:
        assert client.ping() is True
        assert client.info("replication")["role"] == "master"
        assert client.info("memory")["used_memory"] == 1048576
    finally:
        client.close()


def test_unknown_path_and_latency(oom: tuple[Sandbox, Kube]) -> None:
    sandbox, _ = oom
    sandbox.set_latency(0.01)
    headers = {"Authorization": f"Bearer {sandbox.token}"}
    response = httpx.get(f"{sandbox.url}/apis/batch/v1/namespaces/default/jobs", headers=headers)
    assert response.status_code == 404 and response.json()["kind"] == "Status"


def test_stop_closes_listeners() -> None:
    sandbox = Sandbox.start(ready_delay=0.1)
    port = sandbox.binding()["dependencies"]["postgres"]["port"]  # type: ignore[index]
    assert _connects(port)
    sandbox.stop()
    assert not _connects(port)
