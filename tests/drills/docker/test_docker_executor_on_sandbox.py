"""The bot's DockerExecutor against the sandbox engine: the drill's reads and fixes work."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.config import ServiceBinding
from bot.executors.base import CheckResult
from bot.executors.docker import params
from bot.executors.docker.executor import DockerExecutor
from tests.drills.docker.conftest import Engine


@pytest.fixture
async def executor(engine: Engine) -> AsyncIterator[DockerExecutor]:
    ex = DockerExecutor(engine.sandbox.docker_host)
    yield ex
    await ex.close()


def _binding(engine: Engine) -> ServiceBinding:
    raw = ServiceBinding.model_validate(engine.sandbox.binding())
    return raw.with_defaults(engine.sandbox.service_name)


def _findings(result: CheckResult) -> dict[str, object]:
    return {f.name: f.value for f in result.findings}


async def test_reads_see_the_crashed_container(executor: DockerExecutor, engine: Engine) -> None:
    target = _binding(engine)
    container = await executor.check(params.DockerContainer(type="docker.container"), target)
    assert container.status == "problem"
    assert _findings(container)["docker.running"] is False
    logs = await executor.check(params.DockerLogs(type="docker.logs", tail=100), target)
    assert "Traceback (most recent call last):" in logs.output
    postgres = await executor.check(
        params.DockerContainer(type="docker.container", container="postgres"), target
    )
    assert postgres.status == "ok", postgres.summary


async def test_env_is_read_with_secrets_redacted(executor: DockerExecutor, engine: Engine) -> None:
    result = await executor.check(
        params.DockerEnv(type="docker.env", prefixes=["DATABASE", "GEMINI"]), _binding(engine)
    )
    assert "DATABASE_URL" in result.output
    assert "DATABASE_PASSWORD" in result.output
    for secret in engine.sandbox.secret_values():
        assert secret not in result.output + result.summary


async def test_restart_previews_without_change_then_applies(
    executor: DockerExecutor, engine: Engine
) -> None:
    target = _binding(engine)
    restart = params.DockerRestart(type="docker.restart")
    preview = await executor.preview(restart, target)
    assert preview.error is None, preview.summary
    assert engine.client.containers.get("api-server").status == "exited"
    applied = await executor.apply(restart, target)
    assert applied.status == "ok", applied.summary
    assert engine.client.containers.get("api-server").status == "running"


async def test_set_memory_reaches_the_limit_docker_reports(
    executor: DockerExecutor, engine: Engine
) -> None:
    target = _binding(engine)
    action = params.DockerSetMemory(type="docker.set_memory", memory="4Gi")
    preview = await executor.preview(action, target)
    assert preview.error is None, preview.summary
    assert engine.client.containers.get("api-server").attrs["HostConfig"]["Memory"] == 2 * 2**30
    applied = await executor.apply(action, target)
    assert applied.status == "ok", applied.summary
    assert engine.client.containers.get("api-server").attrs["HostConfig"]["Memory"] == 4 * 2**30


async def test_an_unknown_container_is_one_clear_error(
    executor: DockerExecutor, engine: Engine
) -> None:
    result = await executor.check(
        params.DockerContainer(type="docker.container", container="nope"), _binding(engine)
    )
    assert result.status in ("error", "problem")
    assert "\n" not in result.summary
    assert "nope" in result.summary
