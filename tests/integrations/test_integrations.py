"""Status page and pager calls reach a local stand-in as expected; failures stay soft."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.config import Config
from bot.engine.engine import Engine
from bot.engine.incident import Actor, Incident
from bot.executors.registry import ExecutorRegistry
from bot.integrations.listener import FAILED_EVENT, PAGE_ID, Integrations
from bot.playbooks.loader import load_playbooks
from bot.store import SqliteStore
from bot.templates import TemplateRenderer

REPO = Path(__file__).resolve().parents[2]
LEAD = Actor(id="U-LEAD", name="lead")
TOKEN = "sp-token-5f1c2a9e"
ROUTING_KEY = "rk-8d3b7e41aa"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class StandIn:
    """Plays Statuspage and PagerDuty Events v2 on a free port, recording every request."""

    seen: list[Seen] = field(default_factory=list)
    fail: bool = False
    runner: web.AppRunner | None = None
    port: int = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/pages/{page}/incidents", self._create)
        app.router.add_patch("/pages/{page}/incidents/{id}", self._update)
        app.router.add_post("/v2/enqueue", self._enqueue)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.port = int(self.runner.addresses[0][1])

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _record(self, request: web.Request) -> web.Response | None:
        body = json.loads(await request.text())
        self.seen.append(Seen(request.method, request.path, dict(request.headers), body))
        return web.Response(status=500, text="boom") if self.fail else None

    async def _create(self, request: web.Request) -> web.Response:
        failed = await self._record(request)
        return failed or web.json_response({"id": "sp-1", "status": "investigating"}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        failed = await self._record(request)
        return failed or web.json_response({"id": request.match_info["id"]})

    async def _enqueue(self, request: web.Request) -> web.Response:
        failed = await self._record(request)
        return failed or web.json_response({"status": "success"}, status=202)

    def statuspage(self) -> list[Seen]:
        return [s for s in self.seen if s.path.startswith("/pages/")]

    def pages(self) -> list[Seen]:
        return [s for s in self.seen if s.path == "/v2/enqueue"]


@dataclass
class Reports:
    lines: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, incident: Incident, line: str) -> None:
        self.lines.append((incident.id, line))


@pytest.fixture
async def stand_in() -> AsyncIterator[StandIn]:
    server = StandIn()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def engine(stand_in: StandIn, tmp_path: Path) -> AsyncIterator[Engine]:
    config = Config.model_validate(
        {
            "services": {"api": {"display_name": "Public API"}},
            "escalation": {
                2: {"name": "Engineering Manager", "notify": ["U-EM"], "page": True},
                3: {"name": "CTO", "notify": ["U-CTO"]},
            },
            "statuspage": {"base_url": stand_in.url + "/", "page_id": "pg1", "token": TOKEN},
            "paging": {"url": stand_in.url + "/v2/enqueue", "routing_key": ROUTING_KEY},
        }
    )
    templates = TemplateRenderer(REPO / "templates")
    store = SqliteStore(tmp_path / "incidents.db")
    yield Engine(
        load_playbooks(REPO / "playbooks", templates),
        config,
        store,
        ExecutorRegistry([]),
        templates,
    )
    await store.close()


@pytest.fixture
def reports() -> Reports:
    return Reports()


@pytest.fixture
async def integrations(engine: Engine, reports: Reports) -> AsyncIterator[Integrations]:
    found = Integrations(engine, reports)
    found.attach()
    yield found
    await found.aclose()


async def test_status_updates_create_update_and_resolve_the_page_incident(
    engine: Engine, integrations: Integrations, stand_in: StandIn, reports: Reports
) -> None:
    incident = await engine.open("api-down", "api", LEAD)
    await integrations.drain()
    assert stand_in.seen == []

    await engine.post_status(incident.id, "initial", "We are investigating.", LEAD)
    await integrations.drain()
    await engine.post_status(incident.id, "update", "Cause found: a bad deploy.", LEAD)
    await integrations.drain()
    await engine.resolve(incident.id, LEAD, "bad image", "Rolled back to v1.")
    await integrations.drain()

    calls = stand_in.statuspage()
    assert [(c.method, c.path) for c in calls] == [
        ("POST", "/pages/pg1/incidents"),
        ("PATCH", "/pages/pg1/incidents/sp-1"),
        ("PATCH", "/pages/pg1/incidents/sp-1"),
    ]
    assert all(c.headers["Authorization"] == f"OAuth {TOKEN}" for c in calls)
    assert calls[0].body == {
        "incident": {
            "name": "Public API: API Service Down",
            "status": "investigating",
            "body": "We are investigating.",
        }
    }
    assert calls[1].body == {
        "incident": {"status": "identified", "body": "Cause found: a bad deploy."}
    }
    assert calls[2].body == {"incident": {"status": "resolved", "body": "Rolled back to v1."}}
    stored = await engine.get(incident.id)
    assert stored.links[PAGE_ID] == "sp-1"
    assert reports.lines == []
    assert stand_in.pages() == []


async def test_escalating_to_a_paging_level_pages_once(
    engine: Engine, integrations: Integrations, stand_in: StandIn, reports: Reports
) -> None:
    incident = await engine.open("api-down", "api", LEAD)
    await engine.escalate_now(incident.id, 2, LEAD)
    await integrations.drain()
    # Later changes, and a level that does not page, send nothing more.
    await engine.note(incident.id, LEAD, "note", "still looking")
    await engine.escalate_now(incident.id, 3, LEAD)
    await integrations.drain()

    pages = stand_in.pages()
    assert len(pages) == 1
    assert pages[0].body == {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": f"{incident.id}-level-2",
        "payload": {
            "summary": f"{incident.id} API Service Down for api: "
            "escalated to level 2 (Engineering Manager)",
            "source": "runbook-bot",
            "severity": "critical",
            "custom_details": {
                "incident": incident.id,
                "playbook": "api-down",
                "service": "api",
                "level": 2,
            },
        },
    }

    # A restarted bot (a fresh listener over the same store) does not page again.
    restarted = Integrations(engine, reports)
    restarted.attach()
    try:
        await engine.note(incident.id, LEAD, "note", "after restart")
        await restarted.drain()
    finally:
        await restarted.aclose()
    assert len(stand_in.pages()) == 1
    assert reports.lines == []


async def test_a_fired_escalation_nudge_pages_its_level(
    engine: Engine, integrations: Integrations, stand_in: StandIn
) -> None:
    incident = await engine.open("api-down", "api", LEAD)
    await engine.fire_timer(incident.id, "escalation-2", late=False)
    await integrations.drain()
    assert [p.body["dedup_key"] for p in stand_in.pages()] == [f"{incident.id}-level-2"]


@pytest.mark.parametrize("outage", ["closed-port", "http-500"])
async def test_resolve_completes_with_the_status_page_down(
    engine: Engine,
    integrations: Integrations,
    stand_in: StandIn,
    reports: Reports,
    outage: str,
) -> None:
    incident = await engine.open("api-down", "api", LEAD)
    await engine.post_status(incident.id, "initial", "We are investigating.", LEAD)
    await integrations.drain()
    assert len(stand_in.statuspage()) == 1
    if outage == "closed-port":
        await stand_in.stop()
    else:
        stand_in.fail = True

    resolved = await engine.resolve(incident.id, LEAD, "bad image", "Rolled back.")
    await integrations.drain()

    assert resolved.status == "resolved"
    assert len(reports.lines) == 1
    incident_id, line = reports.lines[0]
    assert incident_id == incident.id
    assert "\n" not in line and line.startswith("status page: could not mark the incident resolved")
    assert TOKEN not in line
    if outage == "http-500":
        assert "HTTP 500" in line
    stored = await engine.get(incident.id)
    assert stored.status == "resolved"
    assert [e.text for e in stored.timeline if e.event == FAILED_EVENT] == [line]


async def test_a_failed_create_is_reported_and_the_next_update_creates(
    engine: Engine, integrations: Integrations, stand_in: StandIn, reports: Reports
) -> None:
    stand_in.fail = True
    incident = await engine.open("api-down", "api", LEAD)
    await engine.post_status(incident.id, "initial", "We are investigating.", LEAD)
    await integrations.drain()
    assert [line for _, line in reports.lines] == [
        "status page: could not open the incident: HTTP 500 Internal Server Error"
    ]
    stand_in.fail = False
    await engine.post_status(incident.id, "update", "Found it.", LEAD)
    await integrations.drain()
    calls = stand_in.statuspage()
    assert [c.method for c in calls] == ["POST", "POST"]
    assert calls[1].body["incident"]["body"] == "Found it."
    assert (await engine.get(incident.id)).links[PAGE_ID] == "sp-1"
    assert len(reports.lines) == 1


async def test_only_updates_addressed_to_the_status_page_reach_it_with_the_seeds_impact(
    engine: Engine, integrations: Integrations, stand_in: StandIn
) -> None:
    incident = await engine.open("service-down", "api", LEAD)
    # Seed 003's "Internal Team Notification" is a Slack post, not the public page.
    await engine.post_status(incident.id, "alert", "Service Down Alert: api", LEAD)
    await integrations.drain()
    assert stand_in.statuspage() == []

    await engine.post_status(incident.id, "status-page", "Service Disruption.", LEAD)
    await integrations.drain()
    await engine.post_status(incident.id, "alert", "Still internal.", LEAD)
    await integrations.drain()

    calls = stand_in.statuspage()
    assert [c.method for c in calls] == ["POST"]
    # Seed 003: `incident[status]=investigating` and `incident[impact_override]=major`.
    assert calls[0].body["incident"]["status"] == "investigating"
    assert calls[0].body["incident"]["impact_override"] == "major"
    assert calls[0].body["incident"]["body"] == "Service Disruption."
    stored = await engine.get(incident.id)
    assert [u.audience for u in stored.status_updates] == [
        ["internal", "incidents-channel"],
        ["internal", "status-channel", "status-page"],
        ["internal", "incidents-channel"],
    ]


async def test_the_security_notice_with_findings_never_reaches_the_status_page(
    engine: Engine, integrations: Integrations, stand_in: StandIn
) -> None:
    incident = await engine.open("api-gateway-auth-failures", "api", LEAD)
    notice = await engine.render_status(incident.id, "security")
    await engine.post_status(incident.id, "security", notice, LEAD)
    await integrations.drain()
    assert stand_in.statuspage() == []

    await engine.post_status(incident.id, "initial", "We are investigating.", LEAD)
    await integrations.drain()
    assert [c.body["incident"]["body"] for c in stand_in.statuspage()] == ["We are investigating."]


async def test_a_level_the_playbook_marks_page_pages_without_a_paging_contact(
    engine: Engine, integrations: Integrations, stand_in: StandIn
) -> None:
    # The config's level 3 (CTO) does not page; api-gateway-down's level 3 says `page: true`.
    incident = await engine.open("api-gateway-down", "api", LEAD)
    await engine.escalate_now(incident.id, 3, LEAD)
    await integrations.drain()
    assert [p.body["dedup_key"] for p in stand_in.pages()] == [f"{incident.id}-level-3"]
