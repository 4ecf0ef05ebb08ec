"""The Docker flow end to end through the engine and a real Docker engine: a container that
crashed on its first start is diagnosed, restarted after an approval, and verified healthy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.config import Config, ServiceBinding
from bot.engine.engine import Engine
from bot.engine.incident import Actor, Incident
from bot.errors import InvalidRequest
from bot.executors import docker as docker_executor
from bot.executors import http
from bot.executors.registry import ExecutorRegistry
from bot.playbooks.loader import load_playbooks
from bot.templates import TemplateRenderer
from tests.engine.conftest import OpenStore
from tests.support.docker_engine import DockerEngine, docker_engine_fixture  # noqa: F401
from tests.support.redis_server import free_port

pytestmark = pytest.mark.slow

SERVICE = "shop-api"
# First start: a crash with a traceback. Any later start: the health server.
CRASH_ONCE = (
    "if [ -f /tmp/ran ]; then exec httpd -f -p 8080 -h /www; else touch /tmp/ran; "
    'echo "Traceback (most recent call last):"; echo "  File app.py, line 1"; '
    'echo "RuntimeError: cannot reach the cache"; exit 1; fi'
)
PLAYBOOK = """
id: docker-api-down
title: API down (Docker)
severity: critical
platform: docker
stages:
  - id: assess
    title: Assess
    steps:
      - id: container
        kind: diagnostic
        title: docker ps -a
        command: docker ps -a --filter name=api
        action: {type: docker.container}
      - id: logs
        kind: diagnostic
        title: docker logs --tail 50
        action: {type: docker.logs, tail: 50}
      - id: health
        kind: diagnostic
        title: curl the health URL
        action: {type: http.get, url: "${service.health_url}", timeout_s: 2}
    root_causes:
      - id: crashed
        title: The container crashed
        symptoms:
          - text: docker ps shows the api container exited
            finding: docker.running
            step: container
            equals: false
        steps:
          - id: restart
            kind: fix
            title: Restart the api container
            command: docker restart api
            action: {type: docker.restart, stop_timeout_s: 1}
            verify: {type: http.get, url: "${service.health_url}", healthy_body: true, timeout_s: 2}
            verify_timeout: 60s
"""


@pytest.fixture
def crashed(docker_engine: DockerEngine) -> Iterator[tuple[str, int]]:
    """A container that exited on its first start, with a fixed host port for its health URL."""
    name = docker_engine.name("crash-once")
    port = free_port()
    docker_engine.run(
        "crash-once", ["sh", "-c", CRASH_ONCE], ports={"8080/tcp": ("127.0.0.1", port)}
    )
    docker_engine.wait_until(name, lambda a: a["State"]["Status"] == "exited")
    yield name, port
    docker_engine.remove_all()


@pytest.fixture
async def docker_flow_engine(
    docker_engine: DockerEngine,
    crashed: tuple[str, int],
    open_store: OpenStore,
    templates: TemplateRenderer,
    lead: Actor,
    tmp_path: Path,
) -> AsyncIterator[Engine]:
    name, port = crashed
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "docker-api-down.yml").write_text(PLAYBOOK)
    playbooks = load_playbooks(tmp_path / "playbooks", templates)
    binding = ServiceBinding(
        platform="docker", container=name, health_url=f"http://127.0.0.1:{port}/health"
    )
    config = Config(services={SERVICE: binding}, approvers=[lead.id])
    executors = ExecutorRegistry(
        [
            (
                docker_executor.READS + docker_executor.WRITES,
                docker_executor.DockerExecutor(docker_engine.url),
            ),
            (http.READS, http.HttpExecutor()),
        ]
    )
    yield Engine(playbooks, config, open_store(), executors, templates)
    await executors.close()


def events(incident: Incident, event: str) -> int:
    return sum(1 for entry in incident.timeline if entry.event == event)


async def test_a_crashed_container_is_restarted_once_after_approval_and_verified(
    docker_flow_engine: Engine,
    docker_engine: DockerEngine,
    crashed: tuple[str, int],
    lead: Actor,
) -> None:
    engine = docker_flow_engine
    name, _ = crashed
    incident = await engine.open("docker-api-down", SERVICE, lead, "API returns 502")

    runs = {run.step_id: run for run in await engine.run_stage(incident.id, lead)}

    assert runs["container"].status == "problem"
    assert runs["container"].summary.startswith(f"{name}: exited (code 1)")
    assert runs["logs"].status == "problem"
    assert "Traceback" in runs["logs"].output
    assert runs["health"].status == "problem"
    causes = engine.causes(await engine.get(incident.id))
    assert [c.cause.id for c in causes][:1] == ["crashed"]

    started = docker_engine.attrs(name)["State"]["StartedAt"]
    approval = await engine.request_fix(incident.id, "restart", lead)

    assert approval.preview.error is None
    assert approval.preview.summary == (
        f"restart container {name} ({approval.preview.before.split(': ', 1)[1]}): starts it"
    )
    assert approval.preview.before.startswith(f"{name}: exited (code 1)")
    # The preview changed nothing.
    after_preview = docker_engine.attrs(name)["State"]
    assert (after_preview["Status"], after_preview["StartedAt"]) == ("exited", started)

    done = await engine.approve(incident.id, approval.id, lead)

    assert done.state == "applied", done
    assert done.result is not None and done.result.summary.startswith(
        f"restarted container {name}; now running"
    )
    assert done.verification is not None
    assert done.verification.status == "ok", done.verification
    assert "200" in done.verification.summary
    state = docker_engine.attrs(name)["State"]
    assert state["Running"] and state["StartedAt"] != started
    restarted_at = state["StartedAt"]

    with pytest.raises(InvalidRequest):
        await engine.approve(incident.id, approval.id, lead)
    await asyncio.sleep(0.5)
    assert docker_engine.attrs(name)["State"]["StartedAt"] == restarted_at
    stored = await engine.get(incident.id)
    assert events(stored, "fix-applied") == 1
    assert stored.mitigated_at is not None

    healthy = await engine.run_step(incident.id, "container", lead)
    assert healthy.status == "ok"
