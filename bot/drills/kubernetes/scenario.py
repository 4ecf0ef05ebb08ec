"""Scenarios: the data that shapes a sandbox cluster, loaded from `scenarios/*.yml`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from bot.drills.scenario import BaseScenario, Model, Shelf

SHELF = Shelf(Path(__file__).parent / "scenarios")


class ImageProfile(Model):
    """What an image really does when it runs."""

    memory: str
    # What the service's traffic adds on top, shared by its deployment's replicas: one pod
    # alone may outgrow its limit where three fit ("scale horizontally if under load").
    load_memory: str | None = None
    crash_log: list[str] = Field(default_factory=list)
    # `fail`: the registry does not have it (a typo'd tag, a push that never happened).
    pull: Literal["ok", "fail"] = "ok"


class Resources(Model):
    requests: dict[str, str] = Field(default_factory=dict)
    limits: dict[str, str] = Field(default_factory=dict)


class Revision(Model):
    """One past rollout of the service's deployment, oldest first."""

    image: str
    age_minutes: float
    resources: Resources | None = None


class HpaSpec(Model):
    """A HorizontalPodAutoscaler on the service's deployment; cpu_percent is the load it sees."""

    min_replicas: int = Field(ge=1)
    max_replicas: int = Field(ge=1)
    cpu_target_percent: int = Field(default=70, ge=1, le=100)
    cpu_percent: int = Field(default=40, ge=0)


class VolumeSpec(Model):
    """A PersistentVolumeClaim (and, once Bound, its volume) mounted by `pod`'s container."""

    pod: str | None = None
    capacity: str = "10Gi"
    storage_class: str = "standard"
    phase: Literal["Bound", "Pending", "Lost"] = "Bound"
    mount: str = "/data"
    used_percent: int = Field(default=40, ge=0, le=100)


class Bound(Model):
    """A numeric bound on one config map value, as the running code reads it."""

    at_least: float | None = None
    at_most: float | None = None

    def holds(self, value: str | None) -> bool:
        try:
            number = float(value or "")
        except ValueError:
            return False
        low = self.at_least if self.at_least is not None else number
        high = self.at_most if self.at_most is not None else number
        return low <= number <= high


class Fault(Model):
    """How the running service misbehaves, and what ends it, as on a real cluster.

    `cured_by: restart`: state the process holds (a wedged connection pool), gone in a pod
    started after the drill began. `cured_by: config`: a pod that started with config map
    values within `config` is cured; pods read their config when they start, so an edit
    takes effect only in pods started after it.
    """

    # What each affected pod logs while serving, after its start-up lines.
    log: list[str] = Field(min_length=1)
    # What its clients get instead of an answer.
    answers: Literal["5xx", "401", "429"]
    # The readiness probe sees it: affected pods leave the Service's endpoints.
    unready: bool = False
    cured_by: Literal["restart", "config"]
    config: dict[str, Bound] = Field(default_factory=dict)


class ServiceSpec(Model):
    """The service under test: deployment, Service, Ingress, config and secrets."""

    name: str
    # The app container's name; unset: the service's name.
    container: str | None = None
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
    hpa: HpaSpec | None = None
    # The app container's working directory (its image's WORKDIR), for relative paths in exec.
    workdir: str | None = None
    fault: Fault | None = None
    # Traffic as a multiple of what `replicas` pods serve comfortably; per pod, CPU and memory
    # grow with it, and past twice that the pods answer in seconds.
    load: float = Field(default=1.0, gt=0)

    @property
    def container_name(self) -> str:
        return self.container or self.name


class DependencySpec(Model):
    """A pod the service depends on; `listener` gives it a real local socket."""

    image: str
    port: int
    listener: Literal["tcp", "redis", "postgres"] | None = None
    required: bool = False
    state: Literal["up", "crashing"] = "up"
    crash_log: list[str] = Field(default_factory=list)
    age_minutes: float = 10080
    # A web frontend: users reach the service's health through it, at /api/health.
    frontend: bool = False
    # Files `cat` and `ls` find inside its container, by absolute path.
    files: dict[str, str] = Field(default_factory=dict)


class ExternalSpec(Model):
    """A service outside the cluster (a vendor's API) that the pods reach by its URL."""

    url: str
    up: bool = True


class NodesSpec(Model):
    names: list[str] = Field(min_length=1)
    cpu: str = "4"
    memory: str = "8Gi"


class Scenario(BaseScenario):
    """A whole drill: the cluster's state and what its images and dependencies do."""

    service: ServiceSpec
    images: dict[str, ImageProfile]
    nodes: NodesSpec
    dependencies: dict[str, DependencySpec] = Field(default_factory=dict)
    # Dependencies outside the cluster, by the name the service binding gives them.
    external: dict[str, ExternalSpec] = Field(default_factory=dict)
    # Claims by name; a claim's `pod` is a dependency's name, unset the service's pods.
    volumes: dict[str, VolumeSpec] = Field(default_factory=dict)
    # Files `cat` and `ls` find inside the service's containers, by absolute path.
    files: dict[str, str] = Field(default_factory=dict)

    def profile(self, image: str) -> ImageProfile:
        """An unknown image behaves like a well-sized one."""
        return self.images.get(image, ImageProfile(memory="128Mi"))


def load_scenario(name: str) -> Scenario:
    """The named scenario merged over the one it extends, down to the shared base cluster."""
    return Scenario.model_validate(SHELF.load(name))


def list_scenarios() -> list[tuple[str, str]]:
    """(name, one-line description) of every scenario."""
    return [(n, str(SHELF.read(n).get("description", "")).strip()) for n in SHELF.names()]


def scenarios_for(playbook: str) -> list[str]:
    """The scenarios drilling `playbook` (their `playbook:` field), by name."""
    return [name for name in SHELF.names() if SHELF.layered(name).get("playbook") == playbook]
