"""`ticket KEY` at the console files a checklist item once, against the GitHub stand-in."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.adapters.console import Console
from bot.app import build_executors
from bot.config import Config, ServiceBinding, TicketsConfig
from bot.engine import checklist
from bot.engine.engine import Engine
from bot.engine.incident import Actor, ChecklistItem
from bot.playbooks.loader import load_playbooks
from bot.store import SqliteStore
from bot.templates import TemplateRenderer
from tests.support.ticket_trackers import TrackerStandIn

REPO = Path(__file__).resolve().parents[2]
ONCALL = Actor(id="oncall", name="oncall")
TOKEN = "con-token-4b8e2f10"


@pytest.fixture
async def console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Console, io.StringIO, TrackerStandIn]]:
    monkeypatch.setenv("RB_TEST_TICKETS", TOKEN)
    tracker = TrackerStandIn(token=TOKEN)
    await tracker.start()
    templates = TemplateRenderer(REPO / "templates")
    binding = {"platform": "docker", "container": "api-server", "health_url": "http://h/health"}
    config = Config(
        services={"api": ServiceBinding.model_validate(binding)},
        approvers=["oncall"],
        tickets=TicketsConfig(
            kind="github", repo="acme/ops", base_url=tracker.url, token_env="RB_TEST_TICKETS"
        ),
    )
    store = SqliteStore(tmp_path / "incidents.db")
    executors = build_executors(str(tmp_path / "no-kubeconfig"), "unix:///nonexistent.sock")
    engine = Engine(
        load_playbooks(REPO / "playbooks", templates), config, store, executors, templates
    )
    out = io.StringIO()
    yield Console(engine, ONCALL, io.StringIO(), out, echo=False), out, tracker
    await executors.close()
    await store.close()
    await tracker.stop()


async def test_ticket_files_once_and_a_failure_is_one_line(
    console: tuple[Console, io.StringIO, TrackerStandIn],
) -> None:
    shell, out, tracker = console
    await shell.execute("open api-down-compose api the API is down")
    await shell.execute("resolve bad deploy -- rolled back")
    incident = await shell.current()
    first = checklist.applicable(shell.engine.playbook_for(incident), incident)[0]
    key = checklist.key_of(first, 0)

    tracker.fail_with = 500
    await shell.execute(f"ticket {key}")
    failures = [line for line in out.getvalue().splitlines() if "HTTP 500" in line]
    assert len(failures) == 1
    assert not (await shell.current()).checklist.get(key, ChecklistItem()).ticket

    tracker.fail_with = 0
    await shell.execute(f"ticket {key}")
    assert (await shell.current()).checklist[key].ticket == "https://github.com/acme/ops/issues/1"
    assert "(ticket: https://github.com/acme/ops/issues/1)" in out.getvalue()

    await shell.execute(f"ticket {key}")
    assert "already has a ticket" in out.getvalue()
    assert len(tracker.created) == 1
