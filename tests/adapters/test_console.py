"""The console reads a line the way a responder types it, apostrophes included."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.adapters.console import Console, ConsoleNotifier
from bot.app import build_executors
from bot.config import Config, ServiceBinding
from bot.engine.engine import Engine
from bot.engine.incident import Actor
from bot.playbooks.loader import load_playbooks
from bot.store import SqliteStore
from bot.templates import TemplateRenderer

REPO = Path(__file__).resolve().parents[2]
ONCALL = Actor(id="oncall", name="oncall")


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[tuple[Console, io.StringIO]]:
    templates = TemplateRenderer(REPO / "templates")
    binding = {"platform": "docker", "container": "api-server", "health_url": "http://h/health"}
    config = Config(services={"api": ServiceBinding.model_validate(binding)}, approvers=["oncall"])
    store = SqliteStore(tmp_path / "incidents.db")
    executors = build_executors(str(tmp_path / "no-kubeconfig"), "unix:///nonexistent.sock")
    engine = Engine(
        load_playbooks(REPO / "playbooks", templates), config, store, executors, templates
    )
    out = io.StringIO()
    yield Console(engine, ONCALL, io.StringIO(), out, echo=False), out
    await executors.close()
    await store.close()


async def test_an_apostrophe_in_free_text_is_a_letter(console: tuple[Console, io.StringIO]) -> None:
    shell, out = console
    await shell.execute("open api-down-compose api the API can't reach its database")
    assert "cannot parse" not in out.getvalue()
    incident = await shell.current()
    assert incident.summary == "the API can't reach its database"

    await shell.execute("done false-alarm it's not a false alarm")
    assert (await shell.current()).manual_done["false-alarm"].note == "it's not a false alarm"
    # Quotes that balance still group words, around an apostrophe too.
    await shell.execute('done grafana "request rate at 0, can\'t load panels" checked')
    done = (await shell.current()).manual_done["grafana"]
    assert done.note == "request rate at 0, can't load panels checked"

    await shell.execute("resolve the pool didn't reconnect -- restarted the api")
    resolved = await shell.current()
    assert resolved.root_cause == "the pool didn't reconnect"
    assert resolved.resolution == "restarted the api"
    assert "error:" not in out.getvalue()


async def test_the_commander_prompt_is_printed_with_what_to_type(
    console: tuple[Console, io.StringIO],
) -> None:
    shell, out = console
    await shell.execute("open api-down-compose api --sev 3")
    incident = await shell.current()
    assert incident.severity == "medium"
    await ConsoleNotifier(shell).commander_needed(incident, False)
    assert out.getvalue().splitlines()[-1] == (
        f"!! {incident.id} has no commander: who is leading? "
        "`commander` to take it, or `role commander @USER`"
    )
