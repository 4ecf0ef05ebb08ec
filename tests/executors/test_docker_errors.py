"""A Docker engine that is not there, or does not answer: one line per call, nothing raised."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from bot.config import ServiceBinding
from bot.executors.base import ReadAction, WriteAction
from bot.executors.docker import READS, WRITES, DockerExecutor
from bot.executors.docker.params import (
    DockerComposeScale,
    DockerContainer,
    DockerEnv,
    DockerExec,
    DockerInspect,
    DockerLogs,
    DockerRecreate,
    DockerRestart,
    DockerSetMemory,
    DockerStart,
    DockerStats,
    DockerStop,
)
from bot.executors.kubernetes.params import K8sPods, K8sScale
from tests.support.redis_server import free_port

TARGET = ServiceBinding(platform="docker", container="api-server")
READ_ACTIONS: list[ReadAction] = [
    DockerContainer(type="docker.container"),
    DockerLogs(type="docker.logs"),
    DockerStats(type="docker.stats"),
    DockerInspect(type="docker.inspect"),
    DockerEnv(type="docker.env"),
    DockerExec(type="docker.exec", command=["true"]),
]
WRITE_ACTIONS: list[WriteAction] = [
    DockerRestart(type="docker.restart"),
    DockerStart(type="docker.start"),
    DockerStop(type="docker.stop"),
    DockerSetMemory(type="docker.set_memory", memory="1Gi"),
    DockerComposeScale(type="docker.compose_scale", replicas=2),
    DockerRecreate(type="docker.recreate", ports=["8080:8000"]),
]


def test_every_action_type_is_exercised() -> None:
    assert {type(a) for a in READ_ACTIONS} == set(READS)
    assert {type(a) for a in WRITE_ACTIONS} == set(WRITES)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield server.getsockname()[1]


async def test_no_engine_at_docker_host_is_one_line_for_every_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/runbook-bot-no-such.sock")
    # Constructing connects to nothing: a bot without Docker still starts.
    executor = DockerExecutor()
    expected = "Docker engine unreachable at unix:///tmp/runbook-bot-no-such.sock: no such socket"
    try:
        for read in READ_ACTIONS:
            result = await executor.check(read, TARGET)
            assert (result.status, result.summary) == ("error", expected), read.type
        for write in WRITE_ACTIONS:
            preview = await executor.preview(write, TARGET)
            assert preview.error == expected, write.type
            applied = await executor.apply(write, TARGET)
            assert (applied.status, applied.summary) == ("error", expected), write.type
    finally:
        await executor.close()


async def test_connection_refused_is_one_line() -> None:
    url = f"tcp://127.0.0.1:{free_port()}"
    executor = DockerExecutor(url, timeout=2)
    try:
        result = await executor.check(DockerContainer(type="docker.container"), TARGET)
        preview = await executor.preview(DockerRestart(type="docker.restart"), TARGET)
    finally:
        await executor.close()

    assert result.status == "error"
    assert result.summary == f"Docker engine unreachable at {url}: connection refused"
    assert preview.error == f"Docker engine unreachable at {url}: connection refused"


async def test_an_engine_that_never_answers_times_out(silent_port: int) -> None:
    url = f"tcp://127.0.0.1:{silent_port}"
    executor = DockerExecutor(url, timeout=1)
    try:
        result = await executor.check(DockerLogs(type="docker.logs"), TARGET)
    finally:
        await executor.close()

    assert result.status == "error"
    assert result.summary == f"Docker engine unreachable at {url}: timed out"


async def test_actions_of_other_backends_are_refused() -> None:
    executor = DockerExecutor("unix:///tmp/runbook-bot-no-such.sock")
    try:
        read = await executor.check(K8sPods(type="k8s.pods"), TARGET)
        preview = await executor.preview(K8sScale(type="k8s.scale", replicas=2), TARGET)
    finally:
        await executor.close()

    assert (read.status, read.summary) == ("error", "not a Docker read: k8s.pods")
    assert preview.error == "not a Docker fix: k8s.scale"


async def test_a_binding_without_a_container_is_a_clear_error() -> None:
    executor = DockerExecutor("unix:///tmp/runbook-bot-no-such.sock")
    try:
        result = await executor.check(DockerContainer(type="docker.container"), ServiceBinding())
    finally:
        await executor.close()

    assert result.status == "error"
    assert result.summary == "no container given and the service binding names none"
