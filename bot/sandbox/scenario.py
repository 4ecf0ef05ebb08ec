"""Scenarios: the data that shapes a sandbox cluster, loaded from `scenarios/*.yml`."""

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
    """What an image really does when it runs."""

    memory: str
    crash_log: list[str] = Field(default_factory=list)


class Resources(_Model):
    requests: dict[str, str] = Field(default_factory=dict)
    limits: dict[str, str] = Field(default_factory=dict)


class Revision(_Model):
    """One past rollout of the service's deployment, oldest first."""

    image: str
    age_minutes: float
    resources: Resources | None = None


class ServiceSpec(_Model):
    """The service under test: deployment, Service, Ingress, config and secrets."""

    name: str
    namespace: str = "default"
    replicas: int = 3
    port: int = 8080
    host: str = "api.ecap.local"
    last_known_good_image: str
    resources: Resources
    env: list[dict[str, Any]] = Field(default_factory=list)
    config: dict[str, str] = Field(default_factory=dict)
    secret: dict[str, str] = Field(default_factory=dict)
    revisions: list[Revision] = Field(min_length=1)


class DependencySpec(_Model):
    """A pod the service depends on; `listener` gives it a real local socket."""

    image: str
    port: int
    listener: Literal["tcp", "redis"] | None = None
    required: bool = False
    state: Literal["up", "crashing"] = "up"
    crash_log: list[str] = Field(default_factory=list)
    age_minutes: float = 10080


class NodesSpec(_Model):
    names: list[str] = Field(min_length=1)
    cpu: str = "4"
    memory: str = "8Gi"


class Scenario(_Model):
    """A whole drill: the cluster's state and what its images and dependencies do."""

    name: str
    description: str
    playbook: str
    service: ServiceSpec
    images: dict[str, ImageProfile]
    nodes: NodesSpec
    dependencies: dict[str, DependencySpec] = Field(default_factory=dict)

    def profile(self, image: str) -> ImageProfile:
        """An unknown image behaves like a well-sized one."""
        return self.images.get(image, ImageProfile(memory="128Mi"))


def _read(name: str) -> dict[str, Any]:
    raw = yaml.safe_load((SCENARIOS / f"{name}.yml").read_text(encoding="utf-8"))
    return raw if isinstance(raw, dict) else {}


def load_scenario(name: str) -> Scenario:
    """The named scenario merged over the shared base cluster."""
    if name.startswith("_") or not (SCENARIOS / f"{name}.yml").is_file():
        known = ", ".join(n for n, _ in list_scenarios())
        raise ValueError(f"unknown scenario {name!r} (known: {known})")
    return Scenario.model_validate(merge_patch(_read(_BASE), _read(name)))


def list_scenarios() -> list[tuple[str, str]]:
    """(name, one-line description) of every scenario."""
    found = []
    for path in sorted(SCENARIOS.glob("*.yml")):
        if not path.stem.startswith("_"):
            found.append((path.stem, str(_read(path.stem).get("description", "")).strip()))
    return found
