"""`runbook-bot drill`: a playbook worked in the console against a stand-in it starts."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import yaml

from bot.adapters.console import Console, ConsoleNotifier
from bot.app import running_engine
from bot.config import Config, ServiceBinding
from bot.drills.catalog import scenario_for
from bot.drills.docker import DockerSandbox
from bot.drills.kubernetes import Sandbox
from bot.engine.incident import Actor
from bot.engine.scheduler import Scheduler, process_owner
from bot.settings import Settings

# The drill's own approvers: the responder, and a second person for destructive fixes.
SECOND_APPROVER = "lead"


@dataclass(frozen=True)
class _Target:
    """A started sandbox as the drill needs it: the service binding and the settings."""

    service: str
    binding: dict[str, object]
    settings: Settings
    where: str


@contextmanager
def _kubernetes(
    chosen: str, tmp: Path, settings: Settings, ready_delay: float, oom_after: float | None
) -> Iterator[_Target]:
    with Sandbox.start(chosen, ready_delay=ready_delay) as sandbox:
        kubeconfig = sandbox.write_kubeconfig(tmp / "kubeconfig")
        yield _Target(
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
) -> Iterator[_Target]:
    with DockerSandbox.start(chosen, ready_delay=ready_delay, oom_after=oom_after) as sandbox:
        yield _Target(
            service=sandbox.service_name,
            binding=sandbox.binding(),
            settings=dataclasses.replace(
                settings,
                docker_host=sandbox.docker_host,
                kubeconfig=str(_no_cluster(tmp / "kubeconfig")),
            ),
            where=f"Sandbox Docker engine at {sandbox.docker_host}.",
        )


async def run_drill(
    playbook_id: str,
    scenario: str | None,
    responder: str,
    stdin: TextIO,
    stdout: TextIO,
    *,
    settings: Settings,
    ready_delay: float = 1.5,
    oom_after: float | None = None,
) -> int:
    chosen = scenario_for(playbook_id, scenario)
    start = _docker if chosen.platform == "docker" else _kubernetes
    with (
        tempfile.TemporaryDirectory(prefix="runbook-drill-") as tmp,
        start(chosen.name, Path(tmp), settings, ready_delay, oom_after) as target,
    ):
        config = Config(
            services={target.service: ServiceBinding.model_validate(target.binding)},
            approvers=[responder, SECOND_APPROVER],
        )
        # A drill never touches the real cluster, the real engine or the real incident store.
        drill_settings = dataclasses.replace(
            target.settings, redis_url=None, state_path=Path(tmp) / "drill.db"
        )
        async with running_engine(drill_settings, config) as engine:
            actor = Actor(id=responder, name=responder)
            console = Console(engine, actor, stdin, stdout, echo=not stdin.isatty(), drill=True)
            console.say(
                f"DRILL: scenario '{chosen.name}': {chosen.description}\n"
                f"{target.where}\n"
                f"You are '{responder}'; approvers are '{responder}' and '{SECOND_APPROVER}'. "
                "Type help for commands."
            )
            incident = await engine.open(
                playbook_id, target.service, actor, f"drill: {chosen.name}"
            )
            console.incident_id = incident.id
            await console.show_overview()
            async with Scheduler(engine, ConsoleNotifier(console), owner=process_owner()):
                return await console.run()
