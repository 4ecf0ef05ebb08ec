"""Roles handed over on the timeline, severity chosen and changed, the commander prompt that
fires once across replicas and restarts, and the response-time stats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from bot.config import Config
from bot.engine.engine import Engine
from bot.engine.incident import Actor, Incident
from bot.engine.stats import Spread
from bot.engine.timers import COMMANDER_KEY, COMMANDER_PROMPT, pending_timers
from bot.errors import InvalidRequest
from bot.metrics import FIX_OUTCOMES, TIME_TO_ACKNOWLEDGE, TIME_TO_MITIGATE, TIME_TO_RESOLVE
from bot.playbooks.models import Playbook
from bot.store.base import Record
from tests.engine.test_scheduler import LEAD, LOOK, Bench, Recorder, eventually, write_playbook

# The fixture, by name.
from tests.engine.test_scheduler import bench as bench

ALICE = Actor(id="U-ALICE", name="alice")


@pytest.fixture
def playbook_dir(tmp_path: Path) -> Path:
    """`slow` (levels at 5 s and 6 s) and `roled`, which names a scribe; nothing nudges soon."""
    directory = tmp_path / "playbooks"
    directory.mkdir()
    write_playbook(directory, "slow", ("1h", "2h"), "1h")
    roled = {
        "id": "roled",
        "title": "With a scribe",
        "severity": "medium",
        "platform": "kubernetes",
        "status_update_interval": "1h",
        "roles": [{"id": "scribe", "title": "scribe"}],
        "stages": [{"id": "triage", "title": "Triage", "steps": [LOOK]}],
    }
    (directory / "roled.yml").write_text(yaml.safe_dump(roled), encoding="utf-8")
    return directory


async def _backdate(engine: Engine, incident_id: str, by: timedelta) -> Incident:
    """The incident as if opened `by` earlier: how a test waits out 5 minutes in a second."""
    record = await engine.store.load(incident_id)
    assert record is not None
    incident = Incident.model_validate_json(record.body)
    incident.opened_at -= by
    await engine.store.replace(
        Record(record.id, record.status, record.version, incident.model_dump_json())
    )
    return incident


async def test_roles_are_assigned_and_handed_over_on_the_timeline(bench: Bench) -> None:
    engine = bench.engine()
    incident = await engine.open("roled", "api", LEAD)
    await engine.assign_role(incident.id, "commander", "@alice", LEAD)
    await engine.assign_role(incident.id, "communications lead", "U0BOB", LEAD)
    await engine.assign_role(incident.id, "scribe", "carol", ALICE)
    handed = await engine.assign_role(incident.id, "commander", "U0BOB", ALICE)

    assert handed.commander == "U0BOB"
    assert handed.roles == {"communications": "U0BOB", "scribe": "carol"}
    assert [e.text for e in handed.timeline if e.event == "role"] == [
        "alice is commander",
        "U0BOB is communications lead",
        "carol is scribe",
        "U0BOB is commander (handed over from alice)",
    ]
    assert handed.acknowledged_at is not None
    claimed = await engine.claim_commander(incident.id, ALICE)
    assert claimed.commander == "alice"
    assert claimed.timeline[-1].text == "alice is incident commander (handed over from U0BOB)"


@pytest.mark.parametrize(
    ("role", "who", "reason"),
    [
        ("janitor", "alice", "no role 'janitor' (roles: commander, communications, operations)"),
        ("commander", "two words", "'two words' is not a user: name one as @name or a user id"),
        ("commander", "lead", "lead is already commander"),
    ],
)
async def test_a_bad_role_request_is_one_line_and_changes_nothing(
    bench: Bench, role: str, who: str, reason: str
) -> None:
    engine = bench.engine()
    incident = await engine.open("slow", "api", LEAD)
    await engine.assign_role(incident.id, "commander", "lead", LEAD)
    before = await engine.get(incident.id)
    with pytest.raises(InvalidRequest) as refused:
        await engine.assign_role(incident.id, role, who, LEAD)
    assert str(refused.value) == reason
    assert await engine.get(incident.id) == before


def test_a_playbook_role_may_not_shadow_a_built_in_one() -> None:
    raw = yaml.safe_load((Path(__file__).parents[2] / "playbooks" / "api-down.yml").read_text())
    raw["roles"] = [{"id": "commander", "title": "boss"}]
    with pytest.raises(ValidationError, match="role 'commander' is already defined"):
        Playbook.model_validate(raw)


async def test_severity_is_chosen_at_open_and_changed_with_its_update_interval(
    bench: Bench,
) -> None:
    engine = bench.engine()
    engine.config = Config.model_validate(
        {"services": {"api": {}}, "severities": {1: {"status_update_minutes": 5}}}
    )
    default = await engine.open("slow", "api", LEAD)
    assert default.severity == "high"
    assert default.timeline[0].text == "Timers slow for api at SEV2 high"
    chosen = await engine.open("slow", "api", LEAD, severity="3")
    assert chosen.severity == "medium"

    changed = await engine.set_severity(chosen.id, "1", ALICE)
    assert changed.severity == "critical"
    assert changed.timeline[-1].event == "severity"
    assert changed.timeline[-1].text == "severity SEV3 medium -> SEV1 critical"
    reminder = [t for t in pending_timers(changed, engine.playbook("slow")) if t.kind == "reminder"]
    assert reminder[0].due == changed.opened_at + timedelta(minutes=5)

    for bad, reason in [
        ("7", "severity must be one of 1 (critical), 2 (high), 3 (medium), 4 (low), not '7'"),
        ("1", f"{chosen.id} is already SEV1 critical"),
    ]:
        with pytest.raises(InvalidRequest) as refused:
            await engine.set_severity(chosen.id, bad, ALICE)
        assert str(refused.value) == reason
    assert await engine.get(chosen.id) == changed
    with pytest.raises(InvalidRequest, match="severity must be one of"):
        await engine.open("slow", "api", LEAD, severity="0")


async def test_the_commander_prompt_fires_once_across_replicas_and_restarts(bench: Bench) -> None:
    first, second = bench.engine(), bench.engine()
    told_first, told_second = Recorder(), Recorder()
    one = await bench.scheduler(first, told_first)
    two = await bench.scheduler(second, told_second)
    incident = await first.open("slow", "api", LEAD)
    assert COMMANDER_KEY in one.armed(incident.id)
    # Due half a second from now, as if opened 5 minutes ago.
    await _backdate(first, incident.id, COMMANDER_PROMPT - timedelta(seconds=0.5))
    await one.sync()
    await two.sync()

    def told() -> int:
        return len(
            told_first.of(incident.id, "commander") + told_second.of(incident.id, "commander")
        )

    await eventually(lambda: told() == 1)
    stored = await first.get(incident.id)
    assert [e.event for e in stored.timeline].count("commander-prompt") == 1
    assert stored.timeline[-1].text.startswith("no commander yet: the room is asked to confirm one")

    restarted, told_again = bench.engine(), Recorder()
    three = await bench.scheduler(restarted, told_again)
    await three.sync()
    assert COMMANDER_KEY not in three.armed(incident.id)
    assert told() == 1 and told_again.nudges == []


async def test_no_prompt_once_a_commander_is_named(bench: Bench) -> None:
    engine, told = bench.engine(), Recorder()
    scheduler = await bench.scheduler(engine, told)
    incident = await engine.open("slow", "api", LEAD)
    await engine.assign_role(incident.id, "commander", "alice", LEAD)
    assert COMMANDER_KEY not in scheduler.armed(incident.id)


async def test_stats_give_medians_p90_counts_and_fix_outcomes_per_window(bench: Bench) -> None:
    engine = bench.engine()
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    at = [now]
    engine.clock = lambda: at[0]
    resolved_before = TIME_TO_RESOLVE.count(playbook="slow", service="api")
    acked_before = TIME_TO_ACKNOWLEDGE.count(playbook="slow", service="api")
    mitigated_before = TIME_TO_MITIGATE.count(playbook="slow", service="api")

    # Acknowledged after 1, 2, ..., 10 minutes, resolved 10 minutes later each.
    for minutes in range(1, 11):
        at[0] = now - timedelta(days=2, minutes=minutes * 30)
        opened = await engine.open("slow", "api", Actor(id="U-OPENER", name="opener"))
        at[0] += timedelta(minutes=minutes)
        await engine.assign_role(opened.id, "commander", "alice", ALICE)
        at[0] += timedelta(minutes=10)
        await engine.resolve(opened.id, ALICE, "cause", "fixed")
    at[0] = now - timedelta(days=40)
    await engine.open("roled", "api", LEAD)
    at[0] = now

    month = await engine.stats("30d")
    assert month.total.opened == 10
    assert [(g.playbook, g.service, g.opened) for g in month.groups] == [("slow", "api", 10)]
    assert month.total.acknowledge == Spread(10, timedelta(minutes=5.5), timedelta(minutes=9))
    assert month.total.resolve == Spread(10, timedelta(minutes=15.5), timedelta(minutes=19))
    # Resolved without a verified fix: mitigated when resolved.
    assert month.total.mitigate == month.total.resolve
    quarter = await engine.stats("90d")
    assert quarter.total.opened == 11
    assert quarter.total.resolve.count == 10
    assert (await engine.stats("7d")).total.opened == 10
    with pytest.raises(InvalidRequest) as refused:
        await engine.stats("1y")
    assert str(refused.value) == "stats window must be 7d, 30d or 90d, not '1y'"

    assert TIME_TO_RESOLVE.count(playbook="slow", service="api") == resolved_before + 10
    assert TIME_TO_ACKNOWLEDGE.count(playbook="slow", service="api") == acked_before + 10
    assert TIME_TO_MITIGATE.count(playbook="slow", service="api") == mitigated_before + 10
    assert FIX_OUTCOMES.value(outcome="applied", playbook="slow", service="api") == 0
