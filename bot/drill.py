"""`runbook-bot drill`: a playbook against the built-in sandbox cluster, in the terminal."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import TextIO

from bot.adapters.console import Console, ConsoleNotifier
from bot.app import running_engine
from bot.config import Config, ServiceBinding
from bot.engine.incident import Actor
from bot.engine.scheduler import Scheduler, process_owner
from bot.errors import NotFound
from bot.sandbox import Sandbox, list_scenarios
from bot.settings import Settings

# The drill's own approvers: the responder, and a second person for destructive fixes.
SECOND_APPROVER = "lead"


def scenario_for(playbook_id: str, scenario: str | None) -> str:
    known = {name: description for name, description in list_scenarios()}
    if scenario is None:
        matching = [name for name in known if name.startswith("oom")] or sorted(known)
        if not matching:
            raise NotFound("no drill scenarios are installed")
        return matching[0]
    if scenario not in known:
        raise NotFound(f"no drill scenario '{scenario}' (known: {', '.join(sorted(known))})")
    return scenario


async def run_drill(
    playbook_id: str,
    scenario: str | None,
    responder: str,
    stdin: TextIO,
    stdout: TextIO,
    *,
    settings: Settings,
    ready_delay: float = 1.5,
) -> int:
    chosen = scenario_for(playbook_id, scenario)
    with (
        tempfile.TemporaryDirectory(prefix="runbook-drill-") as tmp,
        Sandbox.start(chosen, ready_delay=ready_delay) as sandbox,
    ):
        kubeconfig = sandbox.write_kubeconfig(Path(tmp) / "kubeconfig")
        config = Config(
            services={sandbox.service_name: ServiceBinding.model_validate(sandbox.binding())},
            approvers=[responder, SECOND_APPROVER],
        )
        # A drill never touches the real cluster or the real incident store.
        drill_settings = dataclasses.replace(
            settings,
            kubeconfig=str(kubeconfig),
            redis_url=None,
            state_path=Path(tmp) / "drill.db",
        )
        async with running_engine(drill_settings, config) as engine:
            actor = Actor(id=responder, name=responder)
            console = Console(engine, actor, stdin, stdout, echo=not stdin.isatty())
            description = dict(list_scenarios())[chosen]
            console.say(
                f"DRILL: scenario '{chosen}': {description}\n"
                f"Sandbox cluster at {sandbox.url} (kubeconfig {kubeconfig}).\n"
                f"You are '{responder}'; approvers are '{responder}' and '{SECOND_APPROVER}'. "
                "Type help for commands."
            )
            incident = await engine.open(
                playbook_id, sandbox.service_name, actor, f"drill: {chosen}"
            )
            console.incident_id = incident.id
            await console.show_overview()
            async with Scheduler(engine, ConsoleNotifier(console), owner=process_owner()):
                return await console.run()
