"""Keeps the status page and the pager in step with incidents as the engine changes them.

What has been sent is kept in the incident's links, so a restart or another replica does not
send it again; a failed call counts as sent too (and is reported), so nothing is retried in a
loop against a service that is down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx

from bot.config import Config
from bot.engine.audience import reaches
from bot.engine.engine import Engine
from bot.engine.incident import BOT, Incident
from bot.errors import BotError
from bot.integrations.errors import IntegrationError
from bot.integrations.paging import Pager, levels_to_page
from bot.integrations.statuspage import PageStatus, StatuspageClient
from bot.redact import redact

Reporter = Callable[[Incident, str], Awaitable[None]]

PAGE_ID = "statuspage.id"
UPDATES = "statuspage.updates"
RESOLVED = "statuspage.resolved"
PAGED = "paging.levels"
FAILED_EVENT = "integration-failed"
_TIMEOUT_S = 5.0

log = logging.getLogger(__name__)


def configured(config: Config) -> bool:
    return config.statuspage is not None or config.paging is not None


def _handled_updates(incident: Incident) -> int:
    value = incident.links.get(UPDATES, "0")
    return int(value) if value.isdigit() else 0


def _paged(incident: Incident) -> set[int]:
    return {int(n) for n in incident.links.get(PAGED, "").split(",") if n.isdigit()}


class Integrations:
    """An engine listener that sends each incident's news to the configured services once."""

    def __init__(
        self, engine: Engine, reporter: Reporter, *, http: httpx.AsyncClient | None = None
    ) -> None:
        self.engine = engine
        self.reporter = reporter
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=_TIMEOUT_S)
        config = engine.config
        self.statuspage = (
            StatuspageClient(config.statuspage, self._http) if config.statuspage else None
        )
        self.pager = Pager(config.paging, self._http) if config.paging else None
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        # Incidents with a sync queued that has not read the store yet: it will see this change.
        self._queued: set[str] = set()

    def attach(self) -> None:
        self.engine.on_change(self._changed)

    def detach(self) -> None:
        self.engine.remove_listener(self._changed)

    async def drain(self) -> None:
        """Wait for every call under way, including those the calls' own changes start."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self) -> None:
        self.detach()
        await self.drain()
        if self._owns_http:
            await self._http.aclose()

    def _changed(self, incident: Incident) -> None:
        if incident.id in self._queued or not self._pending(incident):
            return
        self._queued.add(incident.id)
        task = asyncio.get_running_loop().create_task(self._sync(incident.id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _pending(self, incident: Incident) -> bool:
        # A drill never reaches the status page nor pages anyone.
        if incident.drill is not None:
            return False
        if self.statuspage is not None:
            if len(incident.status_updates) > _handled_updates(incident):
                return True
            if (
                incident.status == "resolved"
                and PAGE_ID in incident.links
                and RESOLVED not in incident.links
            ):
                return True
        return self.pager is not None and bool(
            levels_to_page(incident, self.engine.config, self.engine.playbook_for(incident))
            - _paged(incident)
        )

    async def _sync(self, incident_id: str) -> None:
        lock = self._locks.setdefault(incident_id, asyncio.Lock())
        async with lock:
            self._queued.discard(incident_id)
            try:
                await self._sync_locked(incident_id)
            except Exception as exc:
                # Never into the engine: the responder's action has already succeeded.
                log.error("%s", redact(f"integrations for {incident_id} failed: {exc}"))

    async def _sync_locked(self, incident_id: str) -> None:
        incident = await self.engine.get(incident_id)
        failures: list[str] = []
        links: dict[str, str] = {}
        if self.statuspage is not None:
            links.update(await self._statuspage(self.statuspage, incident, failures))
        if self.pager is not None:
            links.update(await self._page(self.pager, incident, failures))
        if links:
            # Recorded before the failures are noted, so the note's change finds nothing to do.
            await self.engine.set_links(incident_id, links)
        for line in failures:
            await self._report(incident, line)

    async def _statuspage(
        self, client: StatuspageClient, incident: Incident, failures: list[str]
    ) -> dict[str, str]:
        links: dict[str, str] = {}
        page_incident = incident.links.get(PAGE_ID)
        unhandled = incident.status_updates[_handled_updates(incident) :]
        if unhandled:
            links[UPDATES] = str(len(incident.status_updates))
        # Only what the playbook addressed to the status page goes there.
        new = [u for u in unhandled if reaches(u, "status-page")]
        unsent = new[-1].text if new else ""
        impact = new[-1].impact if new else None
        if new:
            try:
                if page_incident is None:
                    page_incident = await client.create(self._title(incident), unsent, impact)
                    links[PAGE_ID] = page_incident
                    unsent = ""
                elif incident.status == "open":
                    status: PageStatus = "monitoring" if incident.mitigated_at else "identified"
                    await client.update(page_incident, status, unsent, impact)
                    unsent = ""
            except IntegrationError as exc:
                failures.append(str(exc))
        if incident.status == "resolved" and page_incident and RESOLVED not in incident.links:
            links[RESOLVED] = "yes"
            body = unsent or incident.resolution or "This incident has been resolved."
            try:
                await client.update(page_incident, "resolved", body)
            except IntegrationError as exc:
                failures.append(str(exc))
        return links

    async def _page(self, pager: Pager, incident: Incident, failures: list[str]) -> dict[str, str]:
        done = _paged(incident)
        todo = sorted(
            levels_to_page(incident, self.engine.config, self.engine.playbook_for(incident)) - done
        )
        if not todo:
            return {}
        for level in todo:
            try:
                await pager.trigger(incident, level, self._page_summary(incident, level))
            except IntegrationError as exc:
                failures.append(str(exc))
        return {PAGED: ",".join(str(n) for n in sorted(done | set(todo)))}

    async def _report(self, incident: Incident, line: str) -> None:
        line = redact(line)
        log.warning("%s: %s", incident.id, line)
        try:
            await self.engine.note(incident.id, BOT, FAILED_EVENT, line)
        except BotError as exc:
            log.error("%s", redact(f"{incident.id}: integration failure not noted: {exc}"))
        try:
            await self.reporter(incident, line)
        except Exception as exc:
            log.error("%s", redact(f"{incident.id}: integration failure not reported: {exc}"))

    def _title(self, incident: Incident) -> str:
        binding = self.engine.config.services.get(incident.service)
        name = binding.display_name if binding is not None else incident.service
        playbook = self.engine.playbooks.get(incident.playbook_id)
        return f"{name}: {playbook.title}" if playbook is not None else name

    def _page_summary(self, incident: Incident, level: int) -> str:
        playbook = self.engine.playbooks.get(incident.playbook_id)
        levels = {lv.level: lv.title for lv in playbook.escalation} if playbook else {}
        what = playbook.title if playbook is not None else incident.playbook_id
        title = f" ({levels[level]})" if level in levels else ""
        return f"{incident.id} {what} for {incident.service}: escalated to level {level}{title}"


@asynccontextmanager
async def running_integrations(
    engine: Engine, reporter: Reporter
) -> AsyncIterator[Integrations | None]:
    """Attached for the block when a status page or pager is configured, else None."""
    if not configured(engine.config):
        yield None
        return
    found = Integrations(engine, reporter)
    found.attach()
    try:
        yield found
    finally:
        await found.aclose()
