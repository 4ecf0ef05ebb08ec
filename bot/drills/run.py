"""`runbook-bot drill`: a playbook worked in the console against a stand-in it starts."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import TextIO

from bot.adapters.console import Console, ConsoleNotifier
from bot.app import running_engine
from bot.config import Config, ServiceBinding
from bot.drills.catalog import root_cause_of, scenario_for
from bot.drills.target import started
from bot.engine.incident import Actor, DrillMark
from bot.engine.scheduler import Scheduler, process_owner
from bot.engine.targets import Target
from bot.settings import Settings

# The drill's own approvers: the responder, and a second person for destructive fixes.
SECOND_APPROVER = "lead"


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
    with (
        tempfile.TemporaryDirectory(prefix="runbook-drill-") as tmp,
        started(chosen, Path(tmp), settings, ready_delay, oom_after) as target,
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
            engine.practice_store = True
            actor = Actor(id=responder, name=responder)
            console = Console(engine, actor, stdin, stdout, echo=not stdin.isatty(), drill=True)
            console.say(
                f"DRILL: scenario '{chosen.name}': {chosen.description}\n"
                f"{target.where}\n"
                f"You are '{responder}'; approvers are '{responder}' and '{SECOND_APPROVER}'. "
                "Type help for commands."
            )
            mark = DrillMark(
                scenario=chosen.name, root_cause=root_cause_of(chosen), platform=chosen.platform
            )
            # The whole process is the drill's: its one service binding is the sandbox's.
            own = Target(engine.config.binding(target.service), engine.runner)
            incident = await engine.open(
                playbook_id, target.service, actor, f"drill: {chosen.name}", drill=(mark, own)
            )
            console.incident_id = incident.id
            await console.show_overview()
            async with Scheduler(engine, ConsoleNotifier(console), owner=process_owner()):
                return await console.run()
