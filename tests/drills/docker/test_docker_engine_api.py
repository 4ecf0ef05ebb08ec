"""The sandbox Docker engine through the real docker SDK (and raw HTTP where framing matters)."""

from __future__ import annotations

import json
import struct

import docker
import httpx
import pytest
import requests
from docker.errors import APIError, NotFound

from tests.drills.docker.conftest import Engine, wait_until

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"


def test_ping_and_version_answer_versioned_and_unversioned(engine: Engine) -> None:
    assert engine.client.ping() is True
    assert engine.api.api_version == "1.41"  # auto-negotiated from GET /version
    assert requests.get(engine.url("/_ping"), timeout=5).text == "OK"
    versioned = requests.get(engine.url("/v1.41/version"), timeout=5)
    assert versioned.json()["ApiVersion"] == "1.41"
    assert versioned.headers["Api-Version"] == "1.41"


def test_list_shows_running_by_default_and_everything_with_all(engine: Engine) -> None:
    running = {c.name: c.status for c in engine.client.containers.list()}
    assert running == {"postgres": "running", "redis": "running"}
    everything = {c.name: c.status for c in engine.client.containers.list(all=True)}
    assert everything == {"api-server": "exited", "postgres": "running", "redis": "running"}
    row = next(r for r in engine.api.containers(all=True) if r["Names"] == ["/api-server"])
    assert row["State"] == "exited"
    assert row["Status"].startswith("Exited (1) 3 minutes ago")
    assert row["Labels"][PROJECT] == "structured-prompt"


def test_list_filters_by_label_name_and_status(engine: Engine) -> None:
    def names(**filters: object) -> set[str]:
        return {c.name for c in engine.client.containers.list(all=True, filters=filters)}

    assert names(label=f"{SERVICE}=api") == {"api-server"}
    assert names(label=[f"{PROJECT}=structured-prompt", f"{SERVICE}=postgres"]) == {"postgres"}
    assert names(label=f"{PROJECT}=other") == set()
    assert names(label=PROJECT) == {"api-server", "postgres", "redis"}
    assert names(name="api") == {"api-server"}
    assert names(status="exited") == {"api-server"}
    # The filters query is JSON, as the CLI sends it; a malformed one is a 400, not a crash.
    raw = requests.get(
        engine.url("/containers/json"),
        params={"all": "1", "filters": json.dumps({"name": ["postgres"]})},
        timeout=5,
    )
    assert [r["Names"] for r in raw.json()] == [["/postgres"]]
    bad = requests.get(engine.url("/containers/json"), params={"filters": "{"}, timeout=5)
    assert bad.status_code == 400
    assert "message" in bad.json()


def test_inspect_has_the_fields_docker_inspect_shows(engine: Engine) -> None:
    attrs = engine.client.containers.get("api-server").attrs
    assert attrs["Name"] == "/api-server"
    assert len(attrs["Id"]) == 64
    state = attrs["State"]
    assert (state["Status"], state["Running"], state["ExitCode"]) == ("exited", False, 1)
    assert state["OOMKilled"] is False and state["Restarting"] is False
    assert state["StartedAt"] < state["FinishedAt"]
    assert state["Health"]["Status"] == "unhealthy"
    config = attrs["Config"]
    assert config["Image"] == "structured-prompt/api:0.1.0"
    assert "DATABASE_PASSWORD=dk-pass-W8q3zV6n" in config["Env"]
    assert config["Labels"] == {
        PROJECT: "structured-prompt",
        SERVICE: "api",
        "com.docker.compose.container-number": "1",
    }
    assert config["ExposedPorts"] == {"8000/tcp": {}}
    host = attrs["HostConfig"]
    assert host["Memory"] == 2 * 2**30
    assert host["MemorySwap"] == 4 * 2**30
    assert host["RestartPolicy"]["Name"] == "no"
    port = str(engine.sandbox.port_of("api-server"))
    assert host["PortBindings"] == {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": port}]}
    # A stopped container publishes nothing, as with a real engine.
    assert attrs["NetworkSettings"]["Ports"] == {}
    by_id = engine.client.containers.get(attrs["Id"][:12])
    assert by_id.name == "api-server"


def test_unknown_names_get_docker_404s(engine: Engine) -> None:
    with pytest.raises(NotFound, match="No such container: nope"):
        engine.client.containers.get("nope")
    raw = requests.get(engine.url("/v1.41/containers/nope/json"), timeout=5)
    assert raw.status_code == 404
    assert raw.json() == {"message": "No such container: nope"}
    for method, path in (
        ("POST", "/containers/nope/restart"),
        ("GET", "/containers/nope/logs?stdout=1"),
        ("DELETE", "/containers/nope"),
    ):
        assert requests.request(method, engine.url(path), timeout=5).status_code == 404
    with pytest.raises(NotFound, match="No such exec instance: nope"):
        engine.api.exec_inspect("nope")
    assert requests.get(engine.url("/v1.41/no/such/page"), timeout=5).status_code == 404


def _frames(body: bytes) -> list[tuple[int, bytes]]:
    found, at = [], 0
    while at < len(body):
        stream, size = struct.unpack(">BxxxL", body[at : at + 8])
        found.append((stream, body[at + 8 : at + 8 + size]))
        at += 8 + size
    return found


def test_logs_are_multiplexed_frames_per_stream(engine: Engine) -> None:
    raw = requests.get(
        engine.url("/v1.41/containers/api-server/logs"),
        params={"stdout": "1", "stderr": "1", "tail": "8"},
        timeout=5,
    )
    assert raw.headers["Content-Type"] == "application/vnd.docker.multiplexed-stream"
    first = b"ERROR:    Exception in ASGI application\n"
    assert raw.content[:8] == bytes([1, 0, 0, 0]) + struct.pack(">L", len(first))
    frames = _frames(raw.content)
    assert len(frames) == 8
    assert frames[0] == (1, first)
    assert frames[1] == (2, b"Traceback (most recent call last):\n")
    assert {stream for stream, _ in frames[1:]} == {2}


def test_logs_through_the_sdk_honour_streams_tail_timestamps_and_since(engine: Engine) -> None:
    api = engine.client.containers.get("api-server")
    everything = api.logs().decode()
    assert "Traceback (most recent call last):" in everything
    assert everything.count("\n") == 10
    only_stdout = api.logs(stderr=False).decode()
    assert "Traceback" not in only_stdout
    assert "Exception in ASGI application" in only_stdout
    only_stderr = api.logs(stdout=False).decode()
    assert only_stderr.startswith("Traceback (most recent call last):")
    assert api.logs(tail=2).decode().splitlines() == [
        "KeyError: 'refine'",
        "RuntimeError: worker event loop is closed; shutting down",
    ]
    stamped = api.logs(tail=1, timestamps=True).decode()
    assert stamped.split(" ", 1)[0].endswith("Z")
    assert stamped.split(" ", 1)[1] == "RuntimeError: worker event loop is closed; shutting down\n"
    assert api.logs(since=int(engine.clock.now) + 60) == b""
    assert api.logs(tail=0) == b""


def test_stats_snapshot_reads_like_docker_stats(engine: Engine) -> None:
    stats = engine.client.containers.get("postgres").stats(stream=False)
    memory = stats["memory_stats"]
    assert memory["limit"] == 2**30
    assert memory["usage"] == 48 * 2**20
    cpu, pre = stats["cpu_stats"], stats["precpu_stats"]
    cpu_delta = cpu["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"]
    system_delta = cpu["system_cpu_usage"] - pre["system_cpu_usage"]
    percent = cpu_delta / system_delta * cpu["online_cpus"] * 100
    assert percent == pytest.approx(1.0)
    # A stopped container reads as zeros, as `docker stats` shows it.
    stopped = engine.client.containers.get("api-server").stats(stream=False)
    assert stopped["memory_stats"] == {}
    assert stopped["cpu_stats"]["cpu_usage"]["total_usage"] == 0


def test_exec_runs_over_the_hijacked_connection(engine: Engine) -> None:
    postgres = engine.client.containers.get("postgres")
    result = postgres.exec_run(["psql", "-U", "structured_prompt", "-c", "SELECT 1;"])
    assert result.exit_code == 0
    assert b"(1 row)" in result.output
    env = postgres.exec_run(["env"], demux=True)
    assert env.output[0] is not None and b"POSTGRES_DB=structured_prompt_db\n" in env.output[0]
    assert env.output[1] is None
    missing = postgres.exec_run(["lsof", "-i"])
    assert missing.exit_code == 126
    assert b'exec: "lsof": executable file not found' in missing.output
    redis = engine.client.containers.get("redis")
    assert redis.exec_run(["redis-cli", "ping"]).output == b"PONG\n"


def test_exec_json_reports_the_exit_code_and_exec_needs_a_running_container(
    engine: Engine,
) -> None:
    created = engine.api.exec_create("postgres", ["echo", "hi"])
    assert engine.api.exec_inspect(created["Id"])["ExitCode"] is None
    assert engine.api.exec_start(created["Id"]) == b"hi\n"
    inspected = engine.api.exec_inspect(created["Id"])
    assert (inspected["ExitCode"], inspected["Running"]) == (0, False)
    with pytest.raises(APIError, match="is not running") as refused:
        engine.client.containers.get("api-server").exec_run(["env"])
    assert refused.value.status_code == 409


def test_exec_start_without_upgrade_streams_until_close_and_detach_runs_quietly(
    engine: Engine,
) -> None:
    created = engine.api.exec_create("postgres", ["echo", "plain"])
    started = requests.post(
        engine.url(f"/v1.41/exec/{created['Id']}/start"), json={"Detach": False}, timeout=5
    )
    assert started.status_code == 200
    assert started.headers["Content-Type"] == "application/vnd.docker.raw-stream"
    assert _frames(started.content) == [(1, b"plain\n")]
    again = requests.post(engine.url(f"/exec/{created['Id']}/start"), json={}, timeout=5)
    assert again.status_code == 409
    detached = engine.api.exec_create("postgres", ["echo", "quiet"])
    assert engine.api.exec_start(detached["Id"], detach=True) == ""
    assert engine.api.exec_inspect(detached["Id"])["ExitCode"] == 0


def test_restart_changes_state_and_the_health_endpoint_follows(engine: Engine) -> None:
    url = engine.sandbox.health_url
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)
    api = engine.client.containers.get("api-server")
    api.restart(timeout=1)
    api.reload()
    assert api.status == "running"
    assert api.attrs["State"]["ExitCode"] == 0
    assert api.attrs["State"]["Health"]["Status"] == "starting"
    port = str(engine.sandbox.port_of("api-server"))
    assert api.attrs["NetworkSettings"]["Ports"]["8000/tcp"][0]["HostPort"] == port
    # The log gains the start-up lines of the new run.
    assert api.logs(tail=1).decode().startswith("INFO:     Uvicorn running")
    engine.clock.advance(1)
    assert _answers(url)
    health = httpx.get(url)
    assert health.status_code == 200
    assert health.json() == {
        "status": "healthy",
        "version": "0.1.0",
        "dependencies": {"postgres": "up", "redis": "up"},
    }
    api.reload()
    assert api.attrs["State"]["Health"]["Status"] == "healthy"


def _answers(url: str) -> bool:
    def up() -> bool:
        try:
            httpx.get(url)
        except httpx.TransportError:
            return False
        return True

    return wait_until(up)


def test_start_and_stop_answer_304_when_nothing_changes(engine: Engine) -> None:
    redis = engine.client.containers.get("redis")
    assert requests.post(engine.url("/containers/redis/start"), timeout=5).status_code == 304
    redis.stop(timeout=1)
    redis.reload()
    assert (redis.status, redis.attrs["State"]["ExitCode"]) == ("exited", 0)
    assert requests.post(engine.url("/containers/redis/stop"), timeout=5).status_code == 304
    redis.start()
    redis.reload()
    assert redis.status == "running"


def test_update_sets_memory_with_dockers_own_checks(engine: Engine) -> None:
    api = engine.client.containers.get("api-server")
    api.update(mem_limit="4g", memswap_limit="8g")
    api.reload()
    assert (api.attrs["HostConfig"]["Memory"], api.attrs["HostConfig"]["MemorySwap"]) == (
        4 * 2**30,
        8 * 2**30,
    )
    # Raising memory past the swap already set is refused, as `docker update --memory` is.
    with pytest.raises(APIError, match="update the memoryswap at the same time") as refused:
        api.update(mem_limit="16g")
    assert refused.value.status_code == 409
    with pytest.raises(APIError, match="Minimum memoryswap limit"):
        api.update(mem_limit="4g", memswap_limit="1g")
    api.reload()
    assert api.attrs["HostConfig"]["Memory"] == 4 * 2**30


def test_create_and_remove_for_compose_scale(engine: Engine) -> None:
    source = engine.client.containers.get("postgres").attrs
    copy = engine.client.containers.create(
        source["Config"]["Image"],
        name="structured-prompt-postgres-2",
        environment=source["Config"]["Env"],
        labels={**source["Config"]["Labels"], "com.docker.compose.container-number": "2"},
        mem_limit=source["HostConfig"]["Memory"],
    )
    copy.reload()
    assert copy.status == "created"
    assert copy.labels[SERVICE] == "postgres"
    copy.start()
    copy.reload()
    assert copy.status == "running"
    scaled = engine.client.containers.list(filters={"label": f"{SERVICE}=postgres"})
    assert {c.name for c in scaled} == {"postgres", "structured-prompt-postgres-2"}

    with pytest.raises(APIError, match="is already in use") as taken:
        engine.client.containers.create(source["Config"]["Image"], name="postgres")
    assert taken.value.status_code == 409
    with pytest.raises(NotFound, match="No such image: nosuch:1"):
        engine.client.containers.create("nosuch:1", name="x")
    with pytest.raises(APIError, match="cannot remove a running container") as running:
        copy.remove()
    assert running.value.status_code == 409
    copy.remove(force=True)
    with pytest.raises(NotFound):
        engine.client.containers.get("structured-prompt-postgres-2")


def test_a_copy_publishing_the_same_host_port_cannot_start(engine: Engine) -> None:
    port = str(engine.sandbox.port_of("redis"))
    copy = engine.client.containers.create(
        "redis:7-alpine", name="redis-2", ports={"6379/tcp": ("127.0.0.1", port)}
    )
    with pytest.raises(APIError, match="port is already allocated"):
        copy.start()
    copy.reload()
    assert copy.status == "created"


def test_from_env_reaches_the_sandbox_through_docker_host(engine: Engine) -> None:
    client = docker.from_env(environment={"DOCKER_HOST": engine.sandbox.docker_host})
    try:
        assert client.containers.get("redis").status == "running"
    finally:
        client.close()
