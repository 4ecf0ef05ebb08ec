"""A fix's verification waits as the runbook says, then must hold; one that cannot run fails now."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.config import Config, ServiceBinding
from bot.drills.docker import DockerSandbox
from bot.engine.engine import Engine
from bot.engine.incident import Actor
from bot.engine.outcome import fix_outcome
from bot.executors import docker as docker_executor
from bot.executors import http
from bot.executors.registry import ExecutorRegistry
from bot.playbooks.models import FixStep, Playbook
from bot.store import SqliteStore
from bot.templates import TemplateRenderer

REPO = Path(__file__).resolve().parents[2]
ONCALL = Actor(id="U-ONCALL", name="oncall")


def _fix(step_id: str, action: dict[str, Any], **verification: Any) -> dict[str, Any]:
    return {"id": step_id, "kind": "fix", "title": step_id, "action": action, **verification}


PLAYBOOK = Playbook.model_validate(
    {
        "id": "oom",
        "title": "Container short of memory",
        "severity": "critical",
        "platform": "docker",
        "stages": [
            {
                "id": "fix",
                "title": "Fix",
                "steps": [
                    _fix(
                        "restart",
                        {"type": "docker.restart"},
                        verify={"type": "docker.container"},
                        verify_wait="1s",
                        verify_hold="4s",
                    ),
                    _fix("raise", {"type": "docker.set_memory", "memory": "4Gi"}),
                    _fix(
                        "restart-metrics",
                        {"type": "docker.restart"},
                        verify={"type": "http.get", "url": "${service.metrics_url}"},
                        verify_timeout="5m",
                    ),
                    {
                        "id": "metrics-up",
                        "kind": "verification",
                        "title": "metrics answer",
                        "check": {"type": "http.get", "url": "${service.metrics_url}"},
                        "timeout": "5m",
                    },
                ],
            }
        ],
    }
)


@pytest.fixture
def sandbox() -> Iterator[DockerSandbox]:
    # Killed 3 s after each start while short of memory: inside the 4 s hold, after the 1 s wait.
    started = DockerSandbox.start("container-oom", ready_delay=0.2, oom_after=3)
    yield started
    started.stop()


@pytest.fixture
async def engine(sandbox: DockerSandbox, tmp_path: Path) -> AsyncIterator[Engine]:
    binding = ServiceBinding.model_validate(sandbox.binding())
    config = Config(services={sandbox.service_name: binding}, approvers=[ONCALL.id])
    executors = ExecutorRegistry(
        [
            (http.READS, http.HttpExecutor()),
            (
                docker_executor.READS + docker_executor.WRITES,
                docker_executor.DockerExecutor(sandbox.docker_host),
            ),
        ]
    )
    store = SqliteStore(tmp_path / "incidents.db")
    templates = TemplateRenderer(REPO / "templates")
    yield Engine({"oom": PLAYBOOK}, config, store, executors, templates)
    await executors.close()
    await store.close()


async def _apply(engine: Engine, incident_id: str, step: str, progress: list[str]) -> Any:
    async def report(line: str) -> None:
        progress.append(line)

    approval = await engine.request_fix(incident_id, step, ONCALL)
    return await engine.approve(incident_id, approval.id, ONCALL, report)


async def test_a_restart_that_dies_within_the_hold_is_not_verified(
    engine: Engine, sandbox: DockerSandbox
) -> None:
    incident = await engine.open("oom", sandbox.service_name, ONCALL)
    progress: list[str] = []
    bare = await _apply(engine, incident.id, "restart", progress)
    assert progress[0] == "waiting 1s before checking"
    assert "healthy; watching for 4s" in progress
    assert bare.result.status == "ok"
    assert bare.verification.status == "problem"
    assert "OOM killed" in bare.verification.summary
    assert "into the 4s hold)" in bare.verification.summary
    assert fix_outcome(bare) == "applied, verification failed"
    assert (await engine.get(incident.id)).mitigated_at is None

    await _apply(engine, incident.id, "raise", [])
    held = await _apply(engine, incident.id, "restart", [])
    assert held.verification.status == "ok"
    assert held.verification.summary.endswith("; held for 4s")
    assert fix_outcome(held) == "applied"
    assert (await engine.get(incident.id)).mitigated_at is not None


async def test_a_verification_that_cannot_run_fails_at_once(
    engine: Engine, sandbox: DockerSandbox
) -> None:
    incident = await engine.open("oom", sandbox.service_name, ONCALL)
    began = time.monotonic()
    applied = await _apply(engine, incident.id, "restart-metrics", [])
    run = await engine.verify(incident.id, "metrics-up", ONCALL)
    # Both would otherwise retry for their 5 minutes.
    assert time.monotonic() - began < 60
    reason = (
        f"this check cannot run: service '{sandbox.service_name}' has no metrics_url configured"
    )
    assert applied.verification.status == "error"
    assert applied.verification.summary == reason
    assert fix_outcome(applied) == "applied, verification failed"
    assert run.status == "error"
    assert run.summary == reason


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"verify_hold": "1m"}, "verify_wait and verify_hold need a verify check"),
        ({"verify": {"type": "docker.container"}, "verify_hold": "0s"}, "between 1s and 1h"),
        ({"verify": {"type": "docker.container"}, "verify_wait": "2h"}, "between 1s and 1h"),
    ],
)
def test_wait_and_hold_are_checked_when_the_playbook_loads(
    fields: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        FixStep.model_validate(_fix("restart", {"type": "docker.restart"}, **fields))
