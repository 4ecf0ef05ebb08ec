"""A drill's sandbox for one scenario: its service binding and the settings that reach it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.drills.catalog import DrillScenario
from bot.drills.docker import DockerSandbox
from bot.drills.kubernetes import Sandbox
from bot.settings import Settings


@dataclass(frozen=True)
class SandboxTarget:
    """A started sandbox as the drill needs it: the service binding and the settings."""

    service: str
    binding: dict[str, object]
    settings: Settings
    where: str


@contextmanager
def _kubernetes(
    chosen: str, tmp: Path, settings: Settings, ready_delay: float, oom_after: float | None
) -> Iterator[SandboxTarget]:
    with Sandbox.start(chosen, ready_delay=ready_delay) as sandbox:
        kubeconfig = sandbox.write_kubeconfig(tmp / "kubeconfig")
        yield SandboxTarget(
            service=sandbox.service_name,
            binding=sandbox.binding(),
            # No Docker engine either: a stray Docker step fails instead of reaching one.
            settings=dataclasses.replace(
                settings,
                kubeconfig=str(kubeconfig),
                docker_host=f"unix://{tmp / 'no-docker-engine.sock'}",
            ),
            where=f"Sandbox cluster at {sandbox.api_url} (kubeconfig {kubeconfig}).",
        )


def _no_cluster(path: Path) -> Path:
    """A kubeconfig with no cluster: a stray Kubernetes step fails instead of reaching one."""
    empty = {"apiVersion": "v1", "kind": "Config", "clusters": [], "contexts": [], "users": []}
    path.write_text(yaml.safe_dump(empty), encoding="utf-8")
    return path


@contextmanager
def _docker(
    chosen: str, tmp: Path, settings: Settings, ready_delay: float, oom_after: float | None
) -> Iterator[SandboxTarget]:
    with DockerSandbox.start(chosen, ready_delay=ready_delay, oom_after=oom_after) as sandbox:
        yield SandboxTarget(
            service=sandbox.service_name,
            binding=sandbox.binding(),
            settings=dataclasses.replace(
                settings,
                docker_host=sandbox.docker_host,
                kubeconfig=str(_no_cluster(tmp / "kubeconfig")),
            ),
            where=f"Sandbox Docker engine at {sandbox.docker_host}.",
        )


@contextmanager
def started(
    chosen: DrillScenario,
    tmp: Path,
    settings: Settings,
    ready_delay: float,
    oom_after: float | None = None,
) -> Iterator[SandboxTarget]:
    """The scenario's sandbox, on its own free port, until the block ends."""
    start = _docker if chosen.platform == "docker" else _kubernetes
    with start(chosen.name, tmp, settings, ready_delay, oom_after) as target:
        yield target
