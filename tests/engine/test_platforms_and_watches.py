"""Playbooks for both platforms, services bound to playbooks, and verifications that watch."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, ServiceBinding
from bot.engine.engine import Engine
from bot.engine.incident import Actor
from bot.errors import ConfigError, InvalidRequest
from bot.executors import http
from bot.executors.registry import ExecutorRegistry
from bot.playbooks.models import Playbook
from bot.store import SqliteStore
from bot.templates import TemplateRenderer

REPO = Path(__file__).resolve().parents[2]
ONCALL = Actor(id="U-ONCALL", name="oncall")


class Health:
    """A real HTTP health endpoint whose answer the test flips, counting the requests."""

    def __init__(self) -> None:
        self.healthy = True
        self.hits: dict[str, int] = {}
        # Flip to unhealthy once this many requests have been answered (None: never).
        self.fail_after: int | None = None
        health = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                health.hits[self.path] = health.hits.get(self.path, 0) + 1
                if health.fail_after is not None and sum(health.hits.values()) > health.fail_after:
                    health.healthy = False
                self.send_response(200 if health.healthy else 503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def health() -> Iterator[Health]:
    server = Health()
    yield server
    server.close()


def _playbook(url: str) -> Playbook:
    def get(step_id: str, path: str, platform: str | None = None) -> dict[str, Any]:
        step: dict[str, Any] = {
            "id": step_id,
            "kind": "diagnostic",
            "title": step_id,
            "action": {"type": "http.get", "url": f"{url}{path}"},
        }
        if platform:
            step["platform"] = platform
        return step

    return Playbook.model_validate(
        {
            "id": "both",
            "title": "Service down on Docker or Kubernetes",
            "severity": "critical",
            "platform": "any",
            "stages": [
                {
                    "id": "check",
                    "title": "Check",
                    "steps": [
                        get("health", "/health"),
                        get("container", "/docker", "docker"),
                        get("pods", "/kubernetes", "kubernetes"),
                    ],
                    "root_causes": [
                        {
                            "id": "down",
                            "title": "Down",
                            "symptoms": [{"text": "it is down"}],
                            "steps": [get("docker-logs", "/docker-logs", "docker")],
                        }
                    ],
                },
                {
                    "id": "verify",
                    "title": "Verify",
                    "steps": [
                        {
                            "id": "watch",
                            "kind": "verification",
                            "title": "Healthy for a while",
                            "check": {"type": "http.get", "url": f"{url}/health"},
                            "timeout": "5s",
                            "interval": "1s",
                            "hold": "3s",
                        }
                    ],
                },
            ],
        }
    )


def _docker_only() -> Playbook:
    return Playbook.model_validate(
        {
            "id": "docker-only",
            "title": "Container down",
            "severity": "high",
            "platform": "docker",
            "stages": [
                {"id": "s", "title": "S", "steps": [{"id": "m", "kind": "manual", "title": "m"}]}
            ],
        }
    )


@pytest.fixture
async def engine(health: Health, tmp_path: Path) -> AsyncIterator[Engine]:
    playbooks = {"both": _playbook(health.url), "docker-only": _docker_only()}
    config = Config(
        services={
            "web-docker": ServiceBinding(platform="docker"),
            "web-k8s": ServiceBinding(platform="kubernetes"),
            "bound": ServiceBinding(platform="docker", playbooks=["docker-only"]),
        },
        approvers=[ONCALL.id],
    )
    executors = ExecutorRegistry([(http.READS, http.HttpExecutor())])
    store = SqliteStore(tmp_path / "incidents.db")
    yield Engine(playbooks, config, store, executors, TemplateRenderer(REPO / "templates"))
    await executors.close()
    await store.close()


async def test_a_docker_service_runs_the_common_and_docker_steps_only(
    engine: Engine, health: Health
) -> None:
    incident = await engine.open("both", "web-docker", ONCALL)
    runs = await engine.run_stage(incident.id, ONCALL)
    assert sorted(r.step_id for r in runs) == ["container", "docker-logs", "health"]
    assert "/kubernetes" not in health.hits
    shown = [s.id for s in engine.stage(await engine.get(incident.id)).all_steps()]
    assert shown == ["health", "container", "docker-logs"]


async def test_a_kubernetes_service_never_sees_the_docker_steps(
    engine: Engine, health: Health
) -> None:
    incident = await engine.open("both", "web-k8s", ONCALL)
    runs = await engine.run_stage(incident.id, ONCALL)
    assert sorted(r.step_id for r in runs) == ["health", "pods"]
    with pytest.raises(InvalidRequest, match="step 'container' is for docker services"):
        await engine.run_step(incident.id, "container", ONCALL)
    assert "/docker" not in health.hits
    assert "container" not in (await engine.get(incident.id)).step_runs


async def test_a_playbook_for_the_other_platform_opens_nothing(engine: Engine) -> None:
    with pytest.raises(InvalidRequest, match="'docker-only' is for docker services; 'web-k8s'"):
        await engine.open("docker-only", "web-k8s", ONCALL)
    assert await engine.list_incidents() == []


async def test_a_service_bound_to_playbooks_opens_only_those(engine: Engine) -> None:
    with pytest.raises(InvalidRequest, match="not bound to playbook 'both'"):
        await engine.open("both", "bound", ONCALL)
    assert await engine.list_incidents() == []
    opened = await engine.open("docker-only", "bound", ONCALL)
    assert opened.playbook_id == "docker-only"


async def test_a_watch_passes_only_after_staying_healthy(engine: Engine, health: Health) -> None:
    incident = await engine.open("both", "web-docker", ONCALL)
    progress: list[str] = []

    async def report(line: str) -> None:
        progress.append(line)

    run = await engine.verify(incident.id, "watch", ONCALL, report)
    assert run.status == "ok"
    assert run.summary.startswith("healthy throughout the 3s watch")
    # The first pass, then at least one more check per second of the watch.
    assert health.hits["/health"] >= 3
    assert "healthy; watching for 3s" in progress
    assert (await engine.get(incident.id)).mitigated_at is not None


async def test_a_watch_fails_when_the_service_falls_over_during_it(
    engine: Engine, health: Health
) -> None:
    incident = await engine.open("both", "web-docker", ONCALL)
    health.fail_after = 2
    run = await engine.verify(incident.id, "watch", ONCALL)
    assert run.status == "problem"
    assert "stopped passing" in run.summary
    assert "of the 3s watch" not in run.summary and "into the 3s watch" in run.summary
    assert (await engine.get(incident.id)).mitigated_at is None


async def test_a_service_missing_from_the_catalog_opens_nothing(engine: Engine) -> None:
    with pytest.raises(ConfigError, match=r"^unknown service 'web' \(known: bound, web-docker"):
        await engine.open("both", "web", ONCALL)
    assert await engine.list_incidents() == []
