"""The sandboxes of the drills a serving process runs: one each, stopped when the drill ends."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from contextlib import ExitStack
from pathlib import Path

from bot.app import build_executors
from bot.config import ServiceBinding
from bot.drills.catalog import DrillScenario, own_scenario, root_cause_of
from bot.drills.kubernetes.sandbox import READY_DELAY
from bot.drills.target import started
from bot.engine.engine import Engine
from bot.engine.incident import Actor, DrillMark, Incident
from bot.engine.runner import ActionRunner
from bot.engine.targets import Target
from bot.errors import BotError, InvalidRequest
from bot.executors.registry import ExecutorRegistry
from bot.settings import Settings

log = logging.getLogger(__name__)

# How often the pool looks for its drills resolved by another replica, whose change it never hears.
SWEEP_SECONDS = 30.0


class SandboxPool:
    """Starts a sandbox on its own port for each drill, binds the drill to it (and only the
    drill), and stops it when the drill is resolved or the pool is closed."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        ready_delay: float = READY_DELAY,
        sweep_seconds: float = SWEEP_SECONDS,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._ready_delay = ready_delay
        self._sweep_seconds = sweep_seconds
        self._sweeper: asyncio.Task[None] | None = None
        self._running: dict[str, tuple[ExitStack, ExecutorRegistry]] = {}
        # Drills whose sandbox is starting: they count against drills.max_running too.
        self._starting = 0
        self._stopping: set[asyncio.Task[None]] = set()
        engine.on_change(self._changed)

    def scenario(self, playbook_id: str, scenario: str | None) -> str:
        """The scenario a drill of the playbook would run; NotFound for a bad pair,
        InvalidRequest when this process runs as many drills as it may."""
        self._engine.playbook(playbook_id)
        name = own_scenario(playbook_id, scenario).name
        self._admit()
        return name

    def _admit(self) -> None:
        limit = self._engine.config.drills.max_running
        if len(self._running) + self._starting >= limit:
            raise InvalidRequest(
                f"{limit} drill(s) already running here (drills.max_running); resolve one first"
            )

    async def open(self, playbook_id: str, scenario: str | None, actor: Actor) -> Incident:
        """A new drill incident of the playbook, against a fresh sandbox of the scenario."""
        self._engine.playbook(playbook_id)
        chosen = own_scenario(playbook_id, scenario)
        self._admit()
        self._starting += 1
        try:
            return await self._open(playbook_id, chosen, actor)
        finally:
            self._starting -= 1

    async def _open(self, playbook_id: str, chosen: DrillScenario, actor: Actor) -> Incident:
        mark = DrillMark(
            scenario=chosen.name, root_cause=root_cause_of(chosen), platform=chosen.platform
        )
        stack = ExitStack()
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="runbook-drill-")))
        try:
            # Starting a sandbox seeds its cluster and binds ports: not on the event loop.
            sandbox = await asyncio.to_thread(
                stack.enter_context, started(chosen, tmp, self._settings, self._ready_delay)
            )
        except BaseException:
            stack.close()
            raise
        # The drill's own executors: its sandbox only, never the real cluster or engine.
        executors = build_executors(sandbox.settings.kubeconfig, sandbox.settings.docker_host)
        binding = ServiceBinding.model_validate(sandbox.binding).with_defaults(sandbox.service)
        try:
            incident = await self._engine.open(
                playbook_id,
                sandbox.service,
                actor,
                f"drill: {chosen.name}",
                drill=(mark, Target(binding, ActionRunner(executors))),
            )
        except BaseException:
            await _stop(stack, executors)
            raise
        self._running[incident.id] = (stack, executors)
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())
        return incident

    def running(self) -> list[str]:
        """The drills whose sandbox this process holds."""
        return sorted(self._running)

    def _changed(self, incident: Incident) -> None:
        if incident.status == "open" or incident.id not in self._running:
            return
        self._release(incident.id)

    async def _sweep(self) -> None:
        while self._running:
            await asyncio.sleep(self._sweep_seconds)
            for incident_id in list(self._running):
                try:
                    incident = await self._engine.get(incident_id)
                except BotError as exc:
                    log.info("drill %s not checked: %s", incident_id, exc)
                    continue
                if incident.status != "open" and incident_id in self._running:
                    self._release(incident_id)

    def _release(self, incident_id: str) -> None:
        stack, executors = self._running.pop(incident_id)
        self._engine.drill_targets.pop(incident_id, None)
        task = asyncio.get_running_loop().create_task(_stop(stack, executors))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def close(self) -> None:
        """Stop every sandbox; drills still open then refuse their steps with one line."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        for incident_id in list(self._running):
            self._release(incident_id)
        await asyncio.gather(*self._stopping, return_exceptions=True)
        self._engine.remove_listener(self._changed)


async def _stop(stack: ExitStack, executors: ExecutorRegistry) -> None:
    try:
        await executors.close()
    finally:
        await asyncio.to_thread(stack.close)
