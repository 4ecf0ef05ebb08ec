"""Log lines: JSON one a line, tagged with the incident the engine is working on, redacted."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import Config, EscalationContact
from bot.engine.engine import Engine
from bot.engine.incident import Actor, Incident
from bot.engine.recovery import Interruption
from bot.engine.scheduler import Scheduler
from bot.executors.registry import ExecutorRegistry
from bot.logs import (
    FORMAT_ENV,
    JsonFormatter,
    TextFormatter,
    choose_format,
    setup_logging,
    working_on,
)
from bot.playbooks.loader import load_playbooks
from bot.playbooks.models import EscalationLevel
from bot.redact import MASK, register_secret
from bot.store import SqliteStore
from bot.templates import TemplateRenderer

REPO = Path(__file__).resolve().parents[1]
LOOK = {"id": "look", "kind": "manual", "title": "Look"}
LEAD = Actor(id="U-LEAD", name="lead")
TIMEOUT_S = 60.0
log = logging.getLogger("tests.logs")


class Lines:
    """What the root logger wrote through one formatter, a line at a time."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)

    def raw(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def json(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.raw()]


@pytest.fixture
def json_lines() -> Iterator[Lines]:
    yield from _capture(JsonFormatter())


@pytest.fixture
def text_lines() -> Iterator[Lines]:
    yield from _capture(TextFormatter())


def _capture(formatter: logging.Formatter) -> Iterator[Lines]:
    lines = Lines(formatter)
    root = logging.getLogger()
    level = root.level
    root.addHandler(lines.handler)
    root.setLevel(logging.INFO)
    yield lines
    root.removeHandler(lines.handler)
    root.setLevel(level)


def test_every_line_is_one_json_object(json_lines: Lines) -> None:
    log.info("plain")
    log.warning('two\nlines and "quotes" and ünïcode')
    log.error("with %s args", "formatted")
    raw = json_lines.raw()
    assert len(raw) == 3
    first, second, third = json_lines.json()
    assert set(first) == {"time", "level", "logger", "message"}
    assert first["level"] == "info" and first["logger"] == "tests.logs"
    assert first["time"].endswith("+00:00") and "T" in first["time"]
    assert second["message"] == 'two\nlines and "quotes" and ünïcode'
    assert third == {**third, "level": "error", "message": "with formatted args"}


def test_a_secret_in_a_message_is_redacted(json_lines: Lines, text_lines: Lines) -> None:
    register_secret("registered-secret-4711")
    log.warning("connecting with token=abc123xyz and registered-secret-4711")
    log.warning("to postgres://app:hunter2@db:5432/app")
    for lines in (json_lines, text_lines):
        out = "\n".join(lines.raw())
        assert "abc123xyz" not in out and "registered-secret-4711" not in out
        assert "hunter2" not in out
        # A value under a sensitive name is masked to the end of its line, the registered
        # secret after it included (issue 13: masking only its first word let tails through).
        assert out.count(MASK) == 2
    assert json_lines.json()[0]["message"] == f"connecting with token={MASK}"


def test_an_exception_is_one_line(json_lines: Lines, text_lines: Lines) -> None:
    try:
        raise ValueError("bad\nvalue password=opensesame")
    except ValueError:
        log.exception("while checking")
    assert len(json_lines.raw()) == 1 and len(text_lines.raw()) == 1
    line = json_lines.json()[0]
    assert line["message"] == "while checking"
    assert line["exception"].startswith(f"ValueError: bad value password={MASK} (")
    assert "test_logs.py:" in line["exception"]
    assert "in test_an_exception_is_one_line)" in line["exception"]
    text = text_lines.raw()[0]
    assert text.startswith("ERROR tests.logs: while checking: ValueError: bad value")
    assert "Traceback" not in json_lines.stream.getvalue() + text_lines.stream.getvalue()
    assert "opensesame" not in json_lines.stream.getvalue() + text_lines.stream.getvalue()


# --- the incident on every line ----------------------------------------------------------


@dataclass
class LoggingNotifier:
    """Logs each nudge as an adapter would; the line should name the nudged incident."""

    nudged: list[str] = field(default_factory=list)

    async def escalation_due(
        self,
        incident: Incident,
        level: EscalationLevel,
        contacts: EscalationContact | None,
        late: bool,
    ) -> None:
        log.warning("nudging for %s", incident.id)
        self.nudged.append(incident.id)

    async def status_reminder(self, incident: Incident, late: bool) -> None:
        log.warning("reminding for %s", incident.id)

    async def commander_needed(self, incident: Incident, late: bool) -> None:
        log.warning("asking for a commander of %s", incident.id)

    async def fix_interrupted(self, interruption: Interruption) -> None:
        log.warning("interrupted fix in %s", interruption.incident.id)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    directory = tmp_path / "playbooks"
    directory.mkdir()
    playbook = {
        "id": "fast",
        "title": "Fast timers",
        "severity": "high",
        "platform": "kubernetes",
        "status_update_interval": "1h",
        "stages": [{"id": "triage", "title": "Triage", "steps": [LOOK]}],
        "escalation": [{"level": 1, "title": "Lead", "after": "1s"}],
    }
    (directory / "fast.yml").write_text(yaml.safe_dump(playbook), encoding="utf-8")
    templates = TemplateRenderer(REPO / "templates")
    store = SqliteStore(tmp_path / "state.db")
    config = Config.model_validate({"services": {"api": {}}})
    yield Engine(
        load_playbooks(directory, templates), config, store, ExecutorRegistry([]), templates
    )
    await store.close()


async def test_lines_while_the_engine_handles_an_incident_carry_its_id(
    engine: Engine, json_lines: Lines
) -> None:
    def listener(incident: Incident) -> None:
        log.info("changed %s", incident.id)
        if incident.commander:
            raise RuntimeError("listener broke")

    engine.on_change(listener)

    async def handle_first() -> None:
        opened = await engine.open("fast", "api", LEAD, "api down")
        log.info("opened %s", opened.id)
        await engine.claim_commander(opened.id, LEAD)
        log.info("after the commander %s", opened.id)

    async def handle_second() -> None:
        opened = await engine.open("fast", "api", LEAD)
        await engine.note(opened.id, LEAD, "note", "looked at the graphs")

    async def unrelated() -> None:
        log.info("nothing to do with an incident")

    # Each a task of its own, as each Slack request is.
    await asyncio.create_task(handle_first())
    await asyncio.gather(handle_second(), unrelated())
    lines = json_lines.json()
    tagged = [(line.get("incident"), line["message"]) for line in lines]
    assert ("INC-0001", "opened INC-0001") in tagged
    assert ("INC-0001", "after the commander INC-0001") in tagged
    # The engine's own line about the failing listener carries the incident too.
    assert ("INC-0001", "change listener failed for INC-0001: listener broke") in tagged
    assert (None, "nothing to do with an incident") in tagged
    for incident, message in tagged:
        if "INC-000" in message:
            assert incident is not None and incident in message, (incident, message)


async def test_a_timer_firing_tags_its_own_incident(engine: Engine, json_lines: Lines) -> None:
    notifier = LoggingNotifier()
    async with Scheduler(engine, notifier, owner="test-logs"):
        # Both armed from one task, so APScheduler's jobs inherit the second one's context.
        first = await engine.open("fast", "api", LEAD)
        second = await engine.open("fast", "api", LEAD)
        deadline = time.monotonic() + TIMEOUT_S
        while len(notifier.nudged) < 2:
            assert time.monotonic() < deadline, "the nudges did not fire"
            await asyncio.sleep(0.05)
    nudges = {line["message"]: line.get("incident") for line in json_lines.json()}
    assert nudges[f"nudging for {first.id}"] == first.id
    assert nudges[f"nudging for {second.id}"] == second.id


def test_text_lines_name_the_incident_too(text_lines: Lines) -> None:
    async def handle() -> None:
        working_on("INC-0042")
        log.warning("rolled back")

    asyncio.run(handle())
    log.warning("outside")
    assert text_lines.raw() == [
        "WARNING tests.logs: [INC-0042] rolled back",
        "WARNING tests.logs: outside",
    ]


# --- choosing the format -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "flag", "env", "chosen"),
    [
        ("serve", None, {}, "json"),
        ("socket", None, {}, "json"),
        ("console", None, {}, "text"),
        ("drill", None, {}, "text"),
        ("lint", None, {}, "text"),
        ("console", None, {FORMAT_ENV: "json"}, "json"),
        ("serve", None, {FORMAT_ENV: " TEXT "}, "text"),
        ("serve", "text", {FORMAT_ENV: "json"}, "text"),
        ("drill", "json", {}, "json"),
    ],
)
def test_the_format_follows_flag_then_environment_then_command(
    command: str, flag: str | None, env: dict[str, str], chosen: str
) -> None:
    assert choose_format(command, flag, env) == (chosen, None)


def test_an_unknown_format_is_one_warning_and_the_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        assert setup_logging("serve", None, {FORMAT_ENV: "xml"}) == "json"
        # Again: it replaces its own handler rather than adding a second.
        assert setup_logging("serve", None, {FORMAT_ENV: "xml"}) == "json"
        logging.getLogger("bot.test").warning("serving")
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["message"] for line in lines] == [
        f"{FORMAT_ENV}='xml' is not json or text; logging as json",
        f"{FORMAT_ENV}='xml' is not json or text; logging as json",
        "serving",
    ]
