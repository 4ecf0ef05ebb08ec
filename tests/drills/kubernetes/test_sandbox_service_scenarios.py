"""The service-down and api-down-docker-k8s scenarios' cluster, through the real client."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx

from bot.drills.kubernetes import Sandbox
from bot.drills.kubernetes.exec import run
from tests.drills.kubernetes.conftest import Kube, wait_until

Start = Callable[..., tuple[Sandbox, Kube]]
NAMESPACE = "web3-marketplace-prod"


def _pods(kube: Kube, namespace: str, selector: str) -> list[dict[str, Any]]:
    found = kube.json(kube.core.list_namespaced_pod, namespace, label_selector=selector)
    return list(found["items"])


def _exec(sandbox: Sandbox, namespace: str, app: str, argv: list[str]) -> tuple[int, str]:
    with sandbox.cluster.locked():
        pod = next(p for p in sandbox.cluster.pods_in(namespace) if p.labels.get("app") == app)
        done = run(sandbox.cluster, pod, argv)
    return done.exit_code, done.stdout + done.stderr


def test_the_service_runs_in_its_own_namespace_with_in_cluster_dependency_names(
    start: Start,
) -> None:
    sandbox, kube = start("service-db-down")
    names = [n["metadata"]["name"] for n in kube.json(kube.core.list_namespace)["items"]]
    assert NAMESPACE in names
    deps = sandbox.binding()["dependencies"]
    assert isinstance(deps, dict)
    # A pod reaches the database by its Service's name (cluster_host); the bot by the
    # forwarded port (host, port, url).
    postgres, redis = deps["postgres"], deps["redis"]
    assert postgres["cluster_host"] == f"postgres.{NAMESPACE}.svc.cluster.local"
    assert postgres["host"] == "127.0.0.1"
    assert postgres["url"] == f"postgresql://postgres@127.0.0.1:{postgres['port']}/postgres"
    assert redis["cluster_host"] == f"redis.{NAMESPACE}.svc.cluster.local"
    assert redis["url"].startswith("redis://127.0.0.1:")

    psql = ["psql", "-h", postgres["cluster_host"], "-U", "postgres", "-c", "SELECT 1;"]
    code, output = _exec(sandbox, NAMESPACE, "backend", psql)
    assert code == 2 and "Connection refused" in output
    kube.core.delete_namespaced_pod("postgres-0", NAMESPACE)
    assert wait_until(sandbox.healthy)
    code, output = _exec(sandbox, NAMESPACE, "backend", psql)
    assert code == 0 and "(1 row)" in output
    # The forwarded port speaks the protocol, so the bot's own SELECT 1 works too.
    assert wait_until(lambda: _answers(str(postgres["url"])))


def _answers(url: str) -> bool:
    async def select_one() -> bool:
        try:
            conn = await asyncpg.connect(url, timeout=2)
        except OSError:
            return False
        try:
            return bool(await conn.fetchval("SELECT 1") == 1)
        finally:
            await conn.close()

    return asyncio.run(select_one())


def test_one_replica_alone_is_oom_killed_where_three_share_the_load(start: Start) -> None:
    sandbox, kube = start("conduit-oom-under-load")
    (pod,) = _pods(kube, "default", "app=conduit-api")
    last = pod["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert last["reason"] == "OOMKilled"
    assert not sandbox.healthy()

    kube.apps.patch_namespaced_deployment_scale("conduit-api", "default", {"spec": {"replicas": 3}})
    assert wait_until(sandbox.healthy)

    def all_ready() -> bool:
        pods = _pods(kube, "default", "app=conduit-api")
        statuses = [p["status"].get("containerStatuses") or [{}] for p in pods]
        return len(pods) == 3 and all(s[0].get("ready") for s in statuses)

    assert wait_until(all_ready)


def test_the_apps_own_database_test_and_relative_paths_in_its_working_directory(
    start: Start,
) -> None:
    sandbox, kube = start("conduit-oom-under-load")
    kube.apps.patch_namespaced_deployment_scale("conduit-api", "default", {"spec": {"replicas": 3}})
    assert wait_until(sandbox.healthy)
    test_db = ["dotnet", "exec", "ConduitLLM.Http.dll", "--test-db"]
    code, output = _exec(sandbox, "default", "conduit-api", test_db)
    assert code == 0 and "Database connection test: OK" in output
    code, output = _exec(sandbox, "default", "conduit-api", ["cat", "appsettings.json"])
    assert code == 0 and '"AllowedHosts": "*"' in output
    code, output = _exec(sandbox, "default", "conduit-api", ["cat", "nope.json"])
    assert code == 1 and "cat: nope.json: No such file or directory" in output
    code, output = _exec(sandbox, "default", "conduit-api", ["dotnet", "--info"])
    assert code == 1
    # The database gone, the app's own test says so from inside its pod.
    kube.core.delete_namespaced_pod("postgres-0", "default")
    code, output = _exec(sandbox, "default", "conduit-api", test_db)
    assert code == 1 and "Connection refused" in output


def test_a_vendor_api_outside_the_cluster_is_reached_by_its_url(start: Start) -> None:
    sandbox, _ = start("service-db-down")
    deps = sandbox.binding()["dependencies"]
    assert isinstance(deps, dict)
    url = deps["external-api"]["url"]
    assert url == "https://api.external-service.com/health"
    code, output = _exec(sandbox, NAMESPACE, "backend", ["curl", "-I", url])
    assert code == 0 and output.startswith("HTTP/1.1 200 OK")
    code, output = _exec(sandbox, NAMESPACE, "backend", ["curl", "-I", "https://nowhere.example/"])
    assert code == 6 and "Could not resolve host: nowhere.example" in output


def test_users_reach_the_service_through_its_frontend(start: Start) -> None:
    sandbox, kube = start("service-db-down")
    deps = sandbox.binding()["dependencies"]
    assert isinstance(deps, dict)
    url = str(deps["frontend"]["url"])
    assert url.endswith("/_sandbox/frontend/frontend/api/health")
    assert httpx.get(url).status_code == 503
    code, output = _exec(sandbox, NAMESPACE, "frontend", ["ls", "-la", "/app/.next/"])
    assert code == 0 and "BUILD_ID" in output
    # The backend's own files are not in the frontend's container, nor the other way round.
    code, _ = _exec(sandbox, NAMESPACE, "backend", ["ls", "/app/.next/"])
    assert code == 2
    kube.core.delete_namespaced_pod("postgres-0", NAMESPACE)
    assert wait_until(lambda: httpx.get(url).status_code == 200)
    assert httpx.get(url).json()["status"] == "healthy"
