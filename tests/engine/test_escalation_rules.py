"""Escalation levels fire on a time, failed fixes, a responder's flag or a metric condition held
long enough; only a nudge due while the bot was down is called late."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from pydantic import ValidationError

from bot.config import Config
from bot.engine.engine import Engine
from bot.engine.incident import Approval, Incident, StatusUpdate
from bot.engine.metric_watch import MetricWatch, bind_query
from bot.engine.scheduler import Scheduler
from bot.engine.timers import (
    Timer,
    level_due,
    next_escalation,
    pending_timers,
    reminder_timer,
)
from bot.errors import InvalidRequest
from bot.executors.base import CheckResult, Preview
from bot.executors.registry import ExecutorRegistry
from bot.playbooks.loader import load_playbooks
from bot.playbooks.models import Playbook
from bot.store import SqliteStore
from bot.templates import TemplateRenderer
from tests.engine.test_scheduler import LEAD, Recorder, eventually
from tests.support.prometheus import MetricsTarget, Prometheus

REPO = Path(__file__).resolve().parents[2]
LOOK = {"id": "look", "kind": "manual", "title": "Look"}
OPENED = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)


def playbook_data(name: str, levels: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": name,
        "title": f"Rules {name}",
        "severity": "high",
        "platform": "kubernetes",
        "status_update_interval": "1h",
        "stages": [{"id": "triage", "title": "Triage", "steps": [LOOK]}],
        "escalation": levels,
    }


PLAYBOOKS = {
    # Seed 004: "if security-related, notify Security Team"; "P99 > 2s for > 10 minutes".
    "flagged": [
        {"level": 1, "title": "Security Team", "on_flags": ["security-suspected"]},
        {"level": 2, "title": "Platform Team Lead", "after": "1h"},
    ],
    "at-opening": [{"level": 1, "title": "Platform Team Lead", "after": "0s"}],
    "metric": [
        {
            "level": 3,
            "title": "Platform Team",
            "metric": {"query": 'up{job="${service.deployment}"} == 0', "held_for": "2s"},
        }
    ],
}


@pytest.fixture
def playbook_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "playbooks"
    directory.mkdir()
    for name, levels in PLAYBOOKS.items():
        text = yaml.safe_dump(playbook_data(name, levels))
        (directory / f"{name}.yml").write_text(text, encoding="utf-8")
    return directory


async def make_engine(playbook_dir: Path, tmp_path: Path, config: dict[str, Any]) -> Engine:
    templates = TemplateRenderer(REPO / "templates")
    store = SqliteStore(tmp_path / "state.db")
    return Engine(
        load_playbooks(playbook_dir, templates),
        Config.model_validate(config),
        store,
        ExecutorRegistry([]),
        templates,
    )


@pytest.fixture
async def engine(playbook_dir: Path, tmp_path: Path) -> AsyncIterator[Engine]:
    made = await make_engine(playbook_dir, tmp_path, {"services": {"api": {}}})
    yield made
    await made.store.close()


async def test_a_flag_level_waits_for_its_flag_then_nudges_on_time(engine: Engine) -> None:
    recorder = Recorder()
    async with Scheduler(engine, recorder, owner="test"):
        incident = await engine.open("flagged", "api", LEAD)
        assert [t.key for t in pending_timers(incident, engine.playbook("flagged"))] == [
            "escalation-2",
            reminder_at(incident.opened_at + timedelta(hours=1)).key,
        ]
        assert next_escalation(incident, engine.playbook("flagged"), engine.clock()).startswith(
            "level 2 (Platform Team Lead) in 59 min"
        )

        flagged = await engine.raise_flag(incident.id, "security-suspected", LEAD)
        await eventually(lambda: len(recorder.of(incident.id, "escalation")) == 1)

    assert flagged.timeline[-1].event == "flag-raised"
    assert flagged.timeline[-1].text == ("security suspected; escalates to level 1 (Security Team)")
    [nudge] = recorder.of(incident.id, "escalation")
    assert (nudge.level, nudge.late) == (1, False)
    stored = await engine.get(incident.id)
    due = [e.text for e in stored.timeline if e.event == "escalation-due"]
    assert due[0].startswith("escalation to level 1 (Security Team) is due: open ")
    assert "late" not in due[0]


async def test_a_flag_is_one_of_the_known_ones_and_is_raised_once(engine: Engine) -> None:
    incident = await engine.open("flagged", "api", LEAD)
    with pytest.raises(InvalidRequest, match="no flag 'hacked'"):
        await engine.raise_flag(incident.id, "hacked", LEAD)
    await engine.raise_flag(incident.id, "data-loss", LEAD)
    with pytest.raises(InvalidRequest, match="already raised by lead"):
        await engine.raise_flag(incident.id, "data-loss", LEAD)
    stored = await engine.get(incident.id)
    # A flag no level of this playbook escalates on is still recorded.
    assert stored.timeline[-1].text == "data loss"
    assert pending_timers(stored, engine.playbook("flagged"))[0].key == "escalation-2"


async def test_a_level_due_at_opening_is_not_called_late(engine: Engine) -> None:
    recorder = Recorder()
    async with Scheduler(engine, recorder, owner="test"):
        incident = await engine.open("at-opening", "api", LEAD)
        await eventually(lambda: len(recorder.of(incident.id, "escalation")) == 1)
    assert recorder.of(incident.id, "escalation")[0].late is False
    stored = await engine.get(incident.id)
    assert not any("(late:" in e.text for e in stored.timeline)


async def test_a_level_missed_while_the_bot_was_down_is_late(engine: Engine) -> None:
    incident = await engine.open("at-opening", "api", LEAD)
    # The bot starts a while after the level was due: that, and only that, is late.
    await asyncio.sleep(1.0)
    recorder = Recorder()
    async with Scheduler(engine, recorder, owner="test"):
        await eventually(lambda: len(recorder.of(incident.id, "escalation")) == 1)
    assert recorder.of(incident.id, "escalation")[0].late is True


def test_only_the_first_level_may_hold_without_a_trigger() -> None:
    levels = [
        {"level": 1, "title": "On-call Engineer", "criteria": ["Follow this runbook"]},
        {"level": 2, "title": "Senior Engineer", "after": "15m"},
    ]
    playbook = Playbook.model_validate(playbook_data("holds", levels))
    incident = Incident(
        id="INC-0001",
        playbook_id="holds",
        service="api",
        severity="high",
        opened_at=OPENED,
        opened_by="lead",
    )
    assert [t.key for t in pending_timers(incident, playbook) if t.kind == "escalation"] == [
        "escalation-2"
    ]
    with pytest.raises(ValidationError, match="escalation level 1 has no trigger"):
        Playbook.model_validate(playbook_data("holds", list(reversed(levels))))


def test_a_level_fires_on_whichever_trigger_comes_first() -> None:
    levels = [
        {
            "level": 2,
            "title": "Engineering Manager",
            "after": "15m",
            "after_failed_fixes": 1,
            "on_flags": ["customer-escalations"],
            "metric": {"query": "up == 0", "held_for": "10m"},
        }
    ]
    playbook = Playbook.model_validate(playbook_data("first", levels))
    level = playbook.escalation[0]
    incident = Incident(
        id="INC-0001",
        playbook_id="first",
        service="api",
        severity="high",
        opened_at=OPENED,
        opened_by="lead",
    )
    assert level_due(incident, level) == OPENED + timedelta(minutes=15)
    incident.timers.conditions[2] = OPENED + timedelta(minutes=1)
    assert level_due(incident, level) == OPENED + timedelta(minutes=11)
    incident.approvals["A1"] = Approval(
        id="A1",
        step_id="restart",
        title="Restart",
        destructive=False,
        preview=Preview(summary="restart"),
        requested_by=LEAD,
        requested_at=OPENED,
        expires_at=OPENED + timedelta(hours=1),
        state="failed",
        decided_at=OPENED + timedelta(minutes=4),
        result=CheckResult(status="error", summary="refused"),
    )
    assert level_due(incident, level) == OPENED + timedelta(minutes=4)


def test_a_bound_value_cannot_break_out_of_its_promql_string() -> None:
    config = Config.model_validate({"services": {"api": {"deployment": "api"}}})
    binding = config.binding("api").model_copy(update={"namespace": 'x"} or vector(1) #'})
    query = bind_query('up{namespace="${service.namespace}"} == 0', binding, "api")
    assert query == 'up{namespace="x\\"} or vector(1) #"} == 0'


async def test_a_metric_condition_held_long_enough_fires_its_level(
    playbook_dir: Path, tmp_path: Path
) -> None:
    async with (
        MetricsTarget() as target,
        Prometheus(jobs={"api": [target.address]}, rules=[]) as prometheus,
        aiohttp.ClientSession() as session,
    ):
        await prometheus.wait_for_value(session, 'up{job="api"}', "1")
        config = {
            "services": {"api": {"deployment": "api"}},
            "prometheus": {"url": prometheus.url, "interval_seconds": 0.5},
        }
        engine = await make_engine(playbook_dir, tmp_path, config)
        try:
            assert engine.config.prometheus is not None
            watch = MetricWatch(engine, engine.config.prometheus)
            incident = await engine.open("metric", "api", LEAD)
            await watch.evaluate()
            assert (await engine.get(incident.id)).timers.conditions == {}

            # The target goes down: once Prometheus sees it, the condition holds.
            await target.stop()
            await prometheus.wait_for_value(session, 'up{job="api"}', "0")
            await watch.evaluate()
            held = await engine.get(incident.id)
            assert list(held.timers.conditions) == [3]
            assert held.timeline[-1].event == "metric-condition"
            assert held.timeline[-1].text.startswith(
                'level 3 (Platform Team) condition holds: up{job="${service.deployment}"} == 0 = '
            )
            assert 'job="api"' in held.timeline[-1].text
            due = level_due(held, engine.playbook("metric").escalation[0])
            assert due == held.timers.conditions[3] + timedelta(seconds=2)

            # Back up before the two seconds are over: the condition no longer holds.
            await target.start()
            await prometheus.wait_for_value(session, 'up{job="api"}', "1")
            await watch.evaluate()
            cleared = await engine.get(incident.id)
            assert cleared.timers.conditions == {}
            assert cleared.timeline[-1].text == "level 3 (Platform Team) condition no longer holds"
            assert pending_timers(cleared, engine.playbook("metric"))[0].kind == "reminder"
            await watch.aclose()

            # Down again, with the scheduler evaluating: the level fires after two seconds held.
            recorder = Recorder()
            async with Scheduler(engine, recorder, owner="test"):
                await target.stop()
                await eventually(lambda: len(recorder.of(incident.id, "escalation")) == 1)
            [nudge] = recorder.of(incident.id, "escalation")
            assert (nudge.level, nudge.late) == (3, False)
            fired = await engine.get(incident.id)
            since = fired.timers.conditions[3]
            at = next(e.at for e in fired.timeline if e.event == "escalation-due")
            assert at >= since + timedelta(seconds=2)
        finally:
            await engine.store.close()


def test_an_internal_notice_does_not_put_off_the_status_reminder() -> None:
    playbook = Playbook.model_validate(playbook_data("reminded", PLAYBOOKS["flagged"]))
    incident = Incident(
        id="INC-0001",
        playbook_id="reminded",
        service="api",
        severity="high",
        opened_at=OPENED,
        opened_by="lead",
    )
    incident.status_updates.append(
        StatusUpdate(
            template="security",
            text="[SECURITY] findings",
            posted_by="lead",
            posted_at=OPENED + timedelta(minutes=20),
            audience=["internal"],
        )
    )
    assert reminder_timer(incident, playbook) == reminder_at(OPENED + timedelta(hours=1))
    incident.status_updates.append(
        StatusUpdate(
            template="initial",
            text="Investigating.",
            posted_by="lead",
            posted_at=OPENED + timedelta(minutes=30),
            audience=["internal", "status-page"],
        )
    )
    assert reminder_timer(incident, playbook) == reminder_at(OPENED + timedelta(minutes=90))


def reminder_at(due: datetime) -> Timer:
    return Timer(f"reminder@{due.isoformat(timespec='microseconds')}", "reminder", due)


async def test_a_condition_that_stopped_holding_while_the_bot_was_down_does_not_fire(
    playbook_dir: Path, tmp_path: Path
) -> None:
    async with (
        MetricsTarget() as target,
        Prometheus(jobs={"api": [target.address]}, rules=[]) as prometheus,
        aiohttp.ClientSession() as session,
    ):
        await prometheus.wait_for_value(session, 'up{job="api"}', "1")
        config = {
            "services": {"api": {"deployment": "api"}},
            "prometheus": {"url": prometheus.url, "interval_seconds": 60},
        }
        engine = await make_engine(playbook_dir, tmp_path, config)
        try:
            incident = await engine.open("metric", "api", LEAD)
            # Recorded as holding an hour ago by a bot that then went down.
            since = engine.clock() - timedelta(hours=1)
            await engine.metric_condition(incident.id, 3, since, "up == 0")
            recorder = Recorder()
            async with Scheduler(engine, recorder, owner="test"):
                await asyncio.sleep(1.0)
            assert recorder.of(incident.id, "escalation") == []
            stored = await engine.get(incident.id)
            assert stored.timers.conditions == {}
            assert stored.timeline[-1].text == "level 3 (Platform Team) condition no longer holds"
        finally:
            await engine.store.close()
