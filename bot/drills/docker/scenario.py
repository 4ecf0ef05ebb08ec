"""Docker scenarios: a compose project's containers and what their images do, from YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from bot.drills.scenario import BaseScenario, Model, Shelf

SHELF = Shelf(Path(__file__).parent / "scenarios", "Docker ")


class ImageProfile(Model):
    """What an image really does when it runs: the memory it needs, and how it dies without."""

    memory: str
    # An under-sized container runs this long, its memory climbing to the limit, then is killed.
    oom_after_seconds: float = 30.0
    oom_log: list[str] = Field(default_factory=lambda: ["Killed"])
    start_log: list[str] = Field(default_factory=list)


class ExecReply(Model):
    """What `docker exec CONTAINER PROGRAM ...` prints and exits with."""

    stdout: list[str] = Field(default_factory=list)
    stderr: list[str] = Field(default_factory=list)
    exit_code: int = 0


class ContainerSpec(Model):
    """One container of the project as the scenario starts it."""

    image: str
    service: str
    number: int = 1
    memory: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    # The container port published on 127.0.0.1; the sandbox serves `listener` there.
    publish: str | None = None
    listener: Literal["health", "postgres", "redis", "tcp"] | None = None
    restart_policy: Literal["no", "always", "unless-stopped", "on-failure"] = "no"
    healthcheck: bool = False
    state: Literal["running", "exited"] = "running"
    exit_code: int = 0
    oom_killed: bool = False
    up_minutes: float = 4320
    stopped_minutes_ago: float = 3
    restart_count: int = 0
    # The container's output so far, oldest first; "stderr: " marks a line on stderr.
    logs: list[str] = Field(default_factory=list)
    memory_used: str = "64Mi"
    cpu_percent: float = 1.0
    exec: dict[str, ExecReply] = Field(default_factory=dict)


class Scenario(BaseScenario):
    """A whole Docker drill: the project's containers and the service's health endpoint."""

    project: str
    # The service catalog's name for the app, and the container that serves its health URL.
    service: str
    app: str
    health_path: str = "/v1/health"
    # The app also serves <health_path>/ready (its dependencies) and /live (the process).
    probes: bool = False
    version: str = "0.1.0"
    # False: the app keeps a dead database connection until it is restarted.
    reconnects: bool = True
    images: dict[str, ImageProfile]
    containers: dict[str, ContainerSpec]

    def profile(self, image: str) -> ImageProfile:
        """An unknown image behaves like a small, well-sized one."""
        return self.images.get(image, ImageProfile(memory="64Mi"))


def list_scenarios() -> list[tuple[str, str, str]]:
    """(name, playbook, one-line description) of every Docker scenario."""
    found = []
    for name in SHELF.names():
        raw = SHELF.layered(name)
        found.append((name, str(raw.get("playbook", "")), str(raw.get("description", "")).strip()))
    return found


def load_scenario(name: str) -> Scenario:
    """The named scenario merged over the shared base project."""
    return Scenario.model_validate(SHELF.load(name))
