"""Docker scenarios: a compose project's containers and what their images do, from YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from bot.sandbox.merge import merge_patch

SCENARIOS = Path(__file__).parent / "scenarios"
_BASE = "_base"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImageProfile(_Model):
    """What an image really does when it runs: the memory it needs, and how it dies without."""

    memory: str
    # An under-sized container runs this long, its memory climbing to the limit, then is killed.
    oom_after_seconds: float = 30.0
    oom_log: list[str] = Field(default_factory=lambda: ["Killed"])
    start_log: list[str] = Field(default_factory=list)


class ExecReply(_Model):
    """What `docker exec CONTAINER PROGRAM ...` prints and exits with."""

    stdout: list[str] = Field(default_factory=list)
    stderr: list[str] = Field(default_factory=list)
    exit_code: int = 0


class ContainerSpec(_Model):
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


class Scenario(_Model):
    """A whole Docker drill: the project's containers and the service's health endpoint."""

    name: str
    description: str
    playbook: str
    project: str
    # The service catalog's name for the app, and the container that serves its health URL.
    service: str
    app: str
    health_path: str = "/v1/health"
    version: str = "0.1.0"
    # False: the app keeps a dead database connection until it is restarted.
    reconnects: bool = True
    images: dict[str, ImageProfile]
    containers: dict[str, ContainerSpec]

    def profile(self, image: str) -> ImageProfile:
        """An unknown image behaves like a small, well-sized one."""
        return self.images.get(image, ImageProfile(memory="64Mi"))


def _read(name: str) -> dict[str, Any]:
    raw = yaml.safe_load((SCENARIOS / f"{name}.yml").read_text(encoding="utf-8"))
    return raw if isinstance(raw, dict) else {}


def list_scenarios() -> list[tuple[str, str, str]]:
    """(name, playbook, one-line description) of every Docker scenario."""
    base = _read(_BASE)
    found = []
    for path in sorted(SCENARIOS.glob("*.yml")):
        if not path.stem.startswith("_"):
            raw = merge_patch(base, _read(path.stem))
            found.append(
                (path.stem, str(raw.get("playbook", "")), str(raw.get("description", "")).strip())
            )
    return found


def load_scenario(name: str) -> Scenario:
    """The named scenario merged over the shared base project."""
    if name.startswith("_") or not (SCENARIOS / f"{name}.yml").is_file():
        known = ", ".join(n for n, _, _ in list_scenarios())
        raise ValueError(f"unknown Docker scenario {name!r} (known: {known})")
    return Scenario.model_validate(merge_patch(_read(_BASE), _read(name)))
