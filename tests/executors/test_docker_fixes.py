"""Docker fixes against a real engine: previews change nothing, apply does it once."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bot.config import ServiceBinding
from bot.executors.base import WriteAction
from bot.executors.docker import DockerExecutor
from bot.executors.docker.params import (
    DockerComposeScale,
    DockerRecreate,
    DockerRestart,
    DockerSetMemory,
    DockerStart,
    DockerStop,
)
from tests.support.docker_engine import DockerEngine, docker_engine_fixture  # noqa: F401
from tests.support.redis_server import free_port

pytestmark = pytest.mark.slow

MI = 1024 * 1024
SERVE = ["httpd", "-f", "-p", "8080", "-h", "/www"]
PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
NUMBER = "com.docker.compose.container-number"


@pytest.fixture
async def executor(docker_engine: DockerEngine) -> AsyncIterator[DockerExecutor]:
    ex = DockerExecutor(docker_engine.url)
    yield ex
    await ex.close()


@pytest.fixture
def engine(docker_engine: DockerEngine) -> Iterator[DockerEngine]:
    yield docker_engine
    docker_engine.remove_all()


def bound(name: str, **fields: Any) -> ServiceBinding:
    return ServiceBinding(platform="docker", container=name, **fields)


def snapshot(engine: DockerEngine, name: str) -> tuple[Any, ...]:
    """What a fix could change: state, start time, limits, restart count."""
    a = engine.attrs(name)
    return (
        a["State"]["Status"],
        a["State"]["StartedAt"],
        a["HostConfig"]["Memory"],
        a["HostConfig"]["MemorySwap"],
        a["RestartCount"],
    )


def running(attrs: dict[str, Any]) -> bool:
    return bool(attrs["State"]["Running"])


async def test_restart_previews_without_changing_then_restarts(
    executor: DockerExecutor, engine: DockerEngine
) -> None:
    name = engine.name("restart")
    engine.run("restart", SERVE)
    engine.wait_until(name, running)
    before = snapshot(engine, name)

    preview = await executor.preview(DockerRestart(type="docker.restart"), bound(name))

    assert preview.error is None, preview
    assert preview.summary.startswith(f"restart container {name} (running, up ")
    assert preview.summary.endswith("stops it with a 10 s grace period, then starts it")
    assert preview.before.startswith(f"{name}: running")
    assert preview.after == f"{name}: running (restarted)"
    assert snapshot(engine, name) == before

    result = await executor.apply(
        DockerRestart(type="docker.restart", stop_timeout_s=1), bound(name)
    )

    assert result.status == "ok", result
    assert result.summary.startswith(f"restarted container {name}; now running")
    after = engine.attrs(name)
    assert after["State"]["Running"]
    assert after["State"]["StartedAt"] != before[1]


async def test_start_refuses_a_running_container_and_starts_a_stopped_one(
    executor: DockerExecutor, engine: DockerEngine
) -> None:
    name = engine.name("start")
    engine.run("start", SERVE)
    engine.wait_until(name, running)

    refused = await executor.preview(DockerStart(type="docker.start"), bound(name))
    assert refused.error == f"container {name} is already running; nothing to start"

    stopped = await executor.apply(DockerStop(type="docker.stop", stop_timeout_s=1), bound(name))
    assert stopped.status == "ok", stopped
    assert stopped.summary.startswith(f"stopped container {name}; now exited")
    again = await executor.preview(DockerStop(type="docker.stop"), bound(name))
    assert again.error is not None and "already stopped" in again.error

    before = snapshot(engine, name)
    preview = await executor.preview(DockerStart(type="docker.start"), bound(name))
    assert preview.error is None
    assert preview.summary.startswith(f"start container {name} (exited")
    assert snapshot(engine, name) == before

    started = await executor.apply(DockerStart(type="docker.start"), bound(name))
    assert started.status == "ok", started
    assert started.summary.startswith(f"started container {name}; now running")
    assert running(engine.attrs(name))


async def test_set_memory_previews_old_and_new_then_applies(
    executor: DockerExecutor, engine: DockerEngine
) -> None:
    name = engine.name("memory")
    engine.run("memory", SERVE, mem_limit="32m")
    engine.wait_until(name, running)
    before = snapshot(engine, name)
    action = DockerSetMemory(type="docker.set_memory", memory="128Mi")

    preview = await executor.preview(action, bound(name))

    assert preview.error is None, preview
    assert preview.summary == f"set memory limit of {name}: 32 MiB -> 128 MiB"
    assert preview.before == f"{name}: memory limit 32 MiB, memory+swap 64 MiB"
    assert preview.after == f"{name}: memory limit 128 MiB, memory+swap 160 MiB"
    assert "-" in preview.diff and "+" in preview.diff
    assert snapshot(engine, name) == before

    result = await executor.apply(action, bound(name))

    assert result.status == "ok", result
    assert result.summary.startswith(f"set memory limit of {name} to 128 MiB (was 32 MiB); now")
    host = engine.attrs(name)["HostConfig"]
    assert host["Memory"] == 128 * MI
    assert host["MemorySwap"] == 160 * MI
    assert running(engine.attrs(name))

    bigger = await executor.apply(
        DockerSetMemory(type="docker.set_memory", memory="1Gi"), bound(name)
    )
    assert bigger.status == "ok"
    assert engine.attrs(name)["HostConfig"]["Memory"] == 1024 * MI


async def test_set_memory_refuses_a_limit_too_small_to_run(
    executor: DockerExecutor, engine: DockerEngine
) -> None:
    name = engine.name("tiny")
    engine.run("tiny", SERVE)
    engine.wait_until(name, running)

    preview = await executor.preview(
        DockerSetMemory(type="docker.set_memory", memory="64"), bound(name)
    )
    applied = await executor.apply(
        DockerSetMemory(type="docker.set_memory", memory="64"), bound(name)
    )

    assert preview.error == "memory 64 is not a usable limit (at least 6Mi)"
    assert applied.status == "error"
    assert engine.attrs(name)["HostConfig"]["Memory"] == 0


@pytest.mark.parametrize(
    "action",
    [
        DockerRestart(type="docker.restart"),
        DockerStart(type="docker.start"),
        DockerStop(type="docker.stop"),
        DockerSetMemory(type="docker.set_memory", memory="1Gi"),
        DockerComposeScale(type="docker.compose_scale", replicas=2),
    ],
    ids=lambda a: a.type,
)
async def test_a_fix_on_an_unknown_container_is_an_error(
    executor: DockerExecutor, engine: DockerEngine, action: WriteAction
) -> None:
    name = engine.name("nowhere")

    preview = await executor.preview(action, bound(name))
    result = await executor.apply(action, bound(name))

    assert preview.error == f"no container named '{name}'"
    assert result.status == "error"
    assert result.summary == f"no container named '{name}'"
    assert name not in [c.name for c in engine.docker.containers.list(all=True)]


def compose_labels(project: str, number: int) -> dict[str, str]:
    return {
        PROJECT: project,
        SERVICE: "web",
        NUMBER: str(number),
        "com.docker.compose.oneoff": "False",
    }


async def test_compose_scale_up_then_down(executor: DockerExecutor, engine: DockerEngine) -> None:
    project = f"rbt{engine.run_id}"
    first = f"{project}-web-1"
    engine.run(
        "web",
        SERVE,
        name=first,
        labels=compose_labels(project, 1),
        ports={"8080/tcp": ("127.0.0.1", None)},
        environment={"APP_MODE": "production"},
        mem_limit="32m",
        # busybox httpd as PID 1 ignores SIGTERM; copies must inherit this.
        stop_signal="SIGKILL",
    )
    engine.wait_until(first, running)
    # Project and service come from the container's own labels.
    target = bound(first)
    up = DockerComposeScale(type="docker.compose_scale", replicas=3)

    preview = await executor.preview(up, target)

    assert preview.error is None, preview
    assert preview.summary == (
        f"scale compose service web of project {project} from 1 to 3 container(s): "
        f"creates and starts {project}-web-2, {project}-web-3 (copies of {first})"
    )
    assert preview.before.splitlines()[0] == f"{project}/web: 1 container(s)"
    assert preview.after.splitlines()[0] == f"{project}/web: 3 container(s)"
    assert engine.labelled(**{PROJECT: project}) == [first]

    result = await executor.apply(up, target)

    assert result.status == "ok", result
    assert result.summary.startswith(
        f"scaled compose service web of project {project} to 3 container(s); now 3 container(s)"
    )
    names = engine.labelled(**{PROJECT: project, SERVICE: "web"})
    assert names == [first, f"{project}-web-2", f"{project}-web-3"]
    for number, name in enumerate(names, start=1):
        attrs = engine.wait_until(name, running)
        assert attrs["Config"]["Labels"][NUMBER] == str(number)
        assert attrs["Config"]["Image"] == engine.image
        assert "APP_MODE=production" in attrs["Config"]["Env"]
        assert attrs["HostConfig"]["Memory"] == 32 * MI
        assert attrs["Config"]["StopSignal"] == "SIGKILL"
        assert engine.host_port(name) > 0

    down = DockerComposeScale(
        type="docker.compose_scale", project=project, service="web", replicas=1
    )
    shrink = await executor.preview(down, bound(""))
    assert shrink.error is None, shrink
    assert shrink.summary.endswith(f"stops and removes {project}-web-3, {project}-web-2")
    assert len(engine.labelled(**{PROJECT: project})) == 3

    removed = await executor.apply(down, bound(""))

    assert removed.status == "ok", removed
    assert engine.labelled(**{PROJECT: project}) == [first]
    assert running(engine.attrs(first))


async def test_compose_scale_follows_underscore_names_and_the_binding(
    executor: DockerExecutor, engine: DockerEngine
) -> None:
    project = f"rbt{engine.run_id}_v1"
    first = f"{project}_web_1"
    engine.run("legacy", SERVE, name=first, labels=compose_labels(project, 1))
    target = bound("", compose_project=project, compose_service="web")

    result = await executor.apply(
        DockerComposeScale(type="docker.compose_scale", replicas=2), target
    )

    assert result.status == "ok", result
    assert engine.labelled(**{PROJECT: project}) == [first, f"{project}_web_2"]


async def test_compose_scale_refuses_unlabelled_containers_and_fixed_host_ports(
    executor: DockerExecutor, engine: DockerEngine
) -> None:
    plain = engine.name("plain")
    engine.run("plain", SERVE)
    project = f"rbt{engine.run_id}fixed"
    pinned = f"{project}-web-1"
    port = free_port()
    engine.run(
        "pinned",
        SERVE,
        name=pinned,
        labels=compose_labels(project, 1),
        ports={"8080/tcp": ("127.0.0.1", port)},
    )
    up = DockerComposeScale(type="docker.compose_scale", replicas=2)

    unlabelled = await executor.preview(up, bound(plain))
    fixed = await executor.preview(up, bound(pinned))
    applied = await executor.apply(up, bound(pinned))

    assert unlabelled.error is not None
    assert unlabelled.error.startswith(f"container {plain} has no compose labels")
    assert fixed.error == (
        f"{pinned} publishes a fixed host port (8080/tcp -> 127.0.0.1:{port}): "
        "copies would conflict over it, so the service cannot be scaled up"
    )
    assert applied.status == "error"
    assert engine.labelled(**{PROJECT: project}) == [pinned]


async def test_recreate_applies_a_new_port_mapping_keeping_name_labels_network_and_volume(
    executor: DockerExecutor, engine: DockerEngine
) -> None:
    """A changed `ports:` needs `docker-compose up -d` to recreate; `docker start` keeps the old."""
    project = f"rbt{engine.run_id}ports"
    name = f"{project}-api-1"
    network = engine.docker.networks.create(engine.name("net"), labels={"rbt": engine.run_id})
    volume = engine.docker.volumes.create(engine.name("vol"))
    old_port, new_port = free_port(), free_port()
    try:
        engine.run(
            "api",
            SERVE,
            name=name,
            labels={**compose_labels(project, 1), SERVICE: "api"},
            ports={"8080/tcp": ("127.0.0.1", old_port)},
            network=network.name,
            volumes={volume.name: {"bind": "/data", "mode": "rw"}},
            stop_signal="SIGKILL",
        )
        before = engine.wait_until(name, running)
        engine.docker.containers.get(name).exec_run(["touch", "/data/kept"])
        recreate = DockerRecreate(type="docker.recreate", ports=[f"127.0.0.1:{new_port}:8080"])

        preview = await executor.preview(recreate, bound(name))

        assert preview.error is None, preview
        assert preview.summary == (
            f"recreate container {name} (running) with ports 8080/tcp -> 127.0.0.1:{new_port} "
            f"(was 8080/tcp -> 127.0.0.1:{old_port}); same name, labels, networks and volumes"
        )
        assert f"; ports 8080/tcp -> 127.0.0.1:{old_port}" in preview.before
        assert preview.after == (
            f"{name}: running (new container); ports 8080/tcp -> 127.0.0.1:{new_port}"
        )
        assert engine.attrs(name)["Id"] == before["Id"], "a preview changes nothing"

        result = await executor.apply(recreate, bound(name))

        assert result.status == "ok", result
        assert result.summary.startswith(f"recreated container {name} with ports 8080/tcp")
        after = engine.wait_until(name, running)
        assert after["Id"] != before["Id"]
        assert engine.host_port(name) == new_port
        assert after["Config"]["Labels"] == before["Config"]["Labels"]
        assert network.name in after["NetworkSettings"]["Networks"]
        assert "api" in after["NetworkSettings"]["Networks"][network.name]["Aliases"]
        assert [m["Name"] for m in after["Mounts"]] == [volume.name]
        kept = engine.docker.containers.get(name).exec_run(["ls", "/data"])
        assert kept.output.decode().split() == ["kept"]
        assert engine.labelled(**{PROJECT: project}) == [name], "the old container is gone"
    finally:
        engine.remove_all()
        network.remove()
        volume.remove(force=True)


async def test_a_recreate_that_cannot_start_puts_the_old_container_back(
    executor: DockerExecutor, engine: DockerEngine
) -> None:
    name = engine.name("busy")
    old_port = free_port()
    engine.run("busy", SERVE, name=name, ports={"8080/tcp": ("127.0.0.1", old_port)})
    before = engine.wait_until(name, running)
    # The new host port is taken by a socket of ours: the engine cannot publish it.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        recreate = DockerRecreate(type="docker.recreate", ports=[f"127.0.0.1:{busy}:8080"])
        result = await executor.apply(recreate, bound(name))

    assert result.status == "error"
    after = engine.wait_until(name, running)
    assert after["Id"] == before["Id"]
    assert engine.host_port(name) == old_port
    assert engine.labelled() == [name]


async def test_compose_scale_makes_replicas_from_a_running_container_not_a_crashed_one(
    executor: DockerExecutor, engine: DockerEngine
) -> None:
    """As compose: project-service-N, the next number, compose labels; not the exited config."""
    project = f"rbt{engine.run_id}model"
    crashed, healthy = f"{project}-web-1", f"{project}-web-2"
    engine.run(
        "crashed",
        ["false"],
        name=crashed,
        labels=compose_labels(project, 1),
        environment={"APP_MODE": "broken"},
    )
    engine.wait_until(crashed, lambda a: a["State"]["Status"] == "exited")
    engine.run(
        "healthy",
        SERVE,
        name=healthy,
        labels=compose_labels(project, 2),
        environment={"APP_MODE": "production"},
        stop_signal="SIGKILL",
    )
    engine.wait_until(healthy, running)
    up = DockerComposeScale(type="docker.compose_scale", project=project, service="web", replicas=3)

    preview = await executor.preview(up, bound(""))
    assert preview.error is None, preview
    assert preview.summary.endswith(f"creates and starts {project}-web-3 (copies of {healthy})")

    assert (await executor.apply(up, bound(""))).status == "ok"
    made = engine.wait_until(f"{project}-web-3", running)
    assert made["Config"]["Labels"][NUMBER] == "3"
    assert made["Config"]["Labels"][PROJECT] == project
    assert made["Config"]["Labels"][SERVICE] == "web"
    assert "APP_MODE=production" in made["Config"]["Env"]
    assert made["Config"]["Cmd"] == SERVE
