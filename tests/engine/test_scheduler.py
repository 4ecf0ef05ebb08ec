"""Escalation nudges and status reminders fire once each: in order, across restarts, replicas."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import Config, EscalationContact
from bot.engine.engine import Engine
from bot.engine.incident import Actor, Incident
from bot.engine.recovery import Interruption
from bot.engine.scheduler import CLAIM_TTL_S, Scheduler, _claim
from bot.errors import BotError, StoreError
from bot.executors.registry import ExecutorRegistry
from bot.playbooks.loader import load_playbooks
from bot.playbooks.models import EscalationLevel
from bot.store import RedisStore, SqliteStore, Store
from bot.templates import TemplateRenderer

REPO = Path(__file__).resolve().parents[2]
# Generous: bounds a hang on the shared 2-core box; nothing asserts how long anything takes.
TIMEOUT_S = 60.0
LEAD = Actor(id="U-LEAD", name="lead")
CONFIG = {
    "services": {"api": {}},
    "escalation": {
        1: {"name": "On-call lead", "notify": ["U-ONCALL"]},
        2: {"name": "CTO", "notify": ["U-CTO"]},
    },
}


LOOK = {"id": "look", "kind": "manual", "title": "Look"}


def write_playbook(directory: Path, name: str, levels: tuple[str, str], interval: str) -> None:
    playbook = {
        "id": name,
        "title": f"Timers {name}",
        "severity": "high",
        "platform": "kubernetes",
        "status_update_interval": interval,
        "stages": [{"id": "triage", "title": "Triage", "steps": [LOOK]}],
        "escalation": [
            {"level": 1, "title": "Lead", "after": levels[0]},
            {"level": 2, "title": "CTO", "after": levels[1]},
        ],
    }
    (directory / f"{name}.yml").write_text(yaml.safe_dump(playbook), encoding="utf-8")


@pytest.fixture
def playbook_dir(tmp_path: Path) -> Path:
    """`fast`: levels at 1 s and 2 s; `slow`: at 5 s and 6 s; both remind every second."""
    directory = tmp_path / "playbooks"
    directory.mkdir()
    write_playbook(directory, "fast", ("1s", "2s"), "1s")
    write_playbook(directory, "slow", ("5s", "6s"), "1s")
    return directory


@dataclass(frozen=True)
class Nudge:
    kind: str
    incident_id: str
    key: str
    late: bool
    level: int | None = None
    contact: str | None = None


@dataclass
class Recorder:
    """A notifier that remembers every firing it was told about."""

    nudges: list[Nudge] = field(default_factory=list)
    interrupted: list[Interruption] = field(default_factory=list)

    async def escalation_due(
        self,
        incident: Incident,
        level: EscalationLevel,
        contacts: EscalationContact | None,
        late: bool,
    ) -> None:
        contact = contacts.name if contacts else None
        key = incident.timers.fired[-1]
        self.nudges.append(Nudge("escalation", incident.id, key, late, level.level, contact))

    async def status_reminder(self, incident: Incident, late: bool) -> None:
        self.nudges.append(Nudge("reminder", incident.id, incident.timers.fired[-1], late))

    async def commander_needed(self, incident: Incident, late: bool) -> None:
        self.nudges.append(Nudge("commander", incident.id, incident.timers.fired[-1], late))

    async def fix_interrupted(self, interruption: Interruption) -> None:
        self.interrupted.append(interruption)

    def of(self, incident_id: str, kind: str) -> list[Nudge]:
        return [n for n in self.nudges if n.incident_id == incident_id and n.kind == kind]


async def eventually(check: Callable[[], bool | Awaitable[bool]]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        result = check()
        if result if isinstance(result, bool) else await result:
            return
        assert time.monotonic() < deadline, "gave up waiting"
        await asyncio.sleep(0.05)


@dataclass
class Bench:
    """Engines (and their schedulers) over one store's data, like processes of one bot."""

    playbook_dir: Path
    store_kind: str
    redis_url: str | None
    sqlite_path: Path
    prefix: str = field(default_factory=lambda: f"test-timers-{uuid.uuid4().hex}:")
    stores: list[Store] = field(default_factory=list)
    schedulers: list[Scheduler] = field(default_factory=list)

    def store_args(self) -> dict[str, str | None]:
        return {"redis_url": self.redis_url, "prefix": self.prefix, "sqlite": str(self.sqlite_path)}

    def engine(self) -> Engine:
        store: Store = (
            RedisStore(self.redis_url, self.prefix)
            if self.redis_url
            else SqliteStore(self.sqlite_path)
        )
        self.stores.append(store)
        templates = TemplateRenderer(REPO / "templates")
        playbooks = load_playbooks(self.playbook_dir, templates)
        config = Config.model_validate(CONFIG)
        return Engine(playbooks, config, store, ExecutorRegistry([]), templates)

    async def scheduler(self, engine: Engine, notifier: Recorder) -> Scheduler:
        scheduler = Scheduler(engine, notifier, owner=f"test-{len(self.schedulers)}")
        await scheduler.start()
        self.schedulers.append(scheduler)
        return scheduler

    async def close(self) -> None:
        for scheduler in self.schedulers:
            await scheduler.stop()
        for store in self.stores:
            await store.close()


@pytest.fixture(params=["sqlite", "redis"])
async def bench(
    request: pytest.FixtureRequest, playbook_dir: Path, tmp_path: Path
) -> AsyncIterator[Bench]:
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    made = Bench(playbook_dir, request.param, redis_url, tmp_path / "state.db")
    yield made
    await made.close()


async def test_nudges_arrive_in_order_with_the_levels_contacts(bench: Bench) -> None:
    engine, recorder = bench.engine(), Recorder()
    await bench.scheduler(engine, recorder)
    incident = await engine.open("fast", "api", LEAD)

    await eventually(lambda: len(recorder.of(incident.id, "escalation")) == 2)
    nudges = recorder.of(incident.id, "escalation")
    assert [(n.level, n.contact, n.late) for n in nudges] == [
        (1, "On-call lead", False),
        (2, "CTO", False),
    ]
    stored = await engine.get(incident.id)
    due = [e.text for e in stored.timeline if e.event == "escalation-due"]
    assert len(due) == 2
    assert due[0].startswith("escalation to level 1 (Lead) is due: open ")
    assert "no fixes tried yet" in due[0]


async def test_on_it_stops_a_level_and_escalate_now_is_recorded(bench: Bench) -> None:
    engine, recorder = bench.engine(), Recorder()
    await bench.scheduler(engine, recorder)
    incident = await engine.open("fast", "api", LEAD)
    await engine.acknowledge_escalation(incident.id, 1, LEAD)

    await eventually(lambda: len(recorder.of(incident.id, "escalation")) == 1)
    assert [n.level for n in recorder.of(incident.id, "escalation")] == [2]
    escalated = await engine.escalate_now(incident.id, 2, LEAD)
    assert escalated.timers.escalated[2].by == "lead"
    assert escalated.timeline[-1].text == "escalated to level 2 (CTO)"


async def test_snooze_delays_the_nudges(bench: Bench) -> None:
    engine, recorder = bench.engine(), Recorder()
    scheduler = await bench.scheduler(engine, recorder)
    incident = await engine.open("fast", "api", LEAD)
    await engine.snooze(incident.id, "escalation", 1, LEAD)

    # Three reminders a second apart: both levels would have fired by then.
    await eventually(lambda: len(recorder.of(incident.id, "reminder")) >= 3)
    assert recorder.of(incident.id, "escalation") == []
    escalations = [k for k in scheduler.armed(incident.id) if k.startswith("escalation")]
    assert len(escalations) == 2
    assert all("@" in key for key in escalations)


async def test_a_status_update_resets_the_reminder_clock(bench: Bench) -> None:
    engine, recorder = bench.engine(), Recorder()
    await bench.scheduler(engine, recorder)
    incident = await engine.open("fast", "api", LEAD)
    await eventually(lambda: len(recorder.of(incident.id, "reminder")) >= 1)
    posted = await engine.post_status(incident.id, "update", "still down", LEAD)
    interval = engine.playbook("fast").status_update_interval
    due = posted.status_updates[-1].posted_at + interval
    # Due one interval after the update, however recently the last reminder fired.
    key = f"reminder@{due.isoformat(timespec='microseconds')}"

    async def reminded() -> bool:
        return key in (await engine.get(incident.id)).timers.fired

    await eventually(reminded)
    await eventually(lambda: any(n.key == key for n in recorder.of(incident.id, "reminder")))


async def test_mute_stops_reminders(bench: Bench) -> None:
    engine, recorder = bench.engine(), Recorder()
    scheduler = await bench.scheduler(engine, recorder)
    incident = await engine.open("fast", "api", LEAD)
    assert any(k.startswith("reminder") for k in scheduler.armed(incident.id))
    await engine.mute_reminders(incident.id, LEAD)
    assert not any(k.startswith("reminder") for k in scheduler.armed(incident.id))
    await engine.mute_reminders(incident.id, LEAD, muted=False)
    assert any(k.startswith("reminder") for k in scheduler.armed(incident.id))


async def test_resolve_cancels_and_a_stale_job_does_nothing(bench: Bench) -> None:
    engine, recorder = bench.engine(), Recorder()
    scheduler = await bench.scheduler(engine, recorder)
    other = bench.engine()
    resolved_here = await engine.open("fast", "api", LEAD)
    resolved_elsewhere = await engine.open("fast", "api", LEAD)
    sentinel = await engine.open("fast", "api", LEAD)

    await engine.resolve(resolved_here.id, LEAD)
    assert scheduler.armed(resolved_here.id) == {}
    # Resolved through an engine this scheduler does not listen to: its jobs stay armed.
    await other.resolve(resolved_elsewhere.id, LEAD)
    assert scheduler.armed(resolved_elsewhere.id) != {}

    await eventually(lambda: len(recorder.of(sentinel.id, "escalation")) == 2)
    assert [n for n in recorder.nudges if n.incident_id != sentinel.id] == []
    assert scheduler.armed(resolved_elsewhere.id) == {}
    assert (await engine.get(resolved_elsewhere.id)).timers.fired == []


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda e, i: e.snooze(i, "escalation", 0, LEAD), "snooze for 1 to 240 minutes, not 0"),
        (lambda e, i: e.snooze(i, "reminder", 241, LEAD), "snooze for 1 to 240 minutes, not 241"),
        (lambda e, i: e.snooze(i, "pager", 5, LEAD), "cannot snooze 'pager'"),
        (lambda e, i: e.escalate_now(i, 7, LEAD), "no escalation level 7 (levels: 1, 2)"),
        (lambda e, i: e.acknowledge_escalation(i, 9, LEAD), "no escalation level 9"),
        (lambda e, i: e.mute_reminders(i, LEAD, muted=False), "reminders are already on"),
    ],
)
async def test_bad_input_is_refused_in_one_line(
    bench: Bench, call: Callable[[Engine, str], Awaitable[Incident]], reason: str
) -> None:
    if bench.store_kind == "redis":
        pytest.skip("input checks do not depend on the store")
    engine = bench.engine()
    incident = await engine.open("fast", "api", LEAD)
    with pytest.raises(BotError) as refused:
        await call(engine, incident.id)
    assert reason in str(refused.value)
    assert "\n" not in str(refused.value)


async def test_resolved_incidents_and_repeats_are_refused(bench: Bench) -> None:
    if bench.store_kind == "redis":
        pytest.skip("input checks do not depend on the store")
    engine = bench.engine()
    incident = await engine.open("fast", "api", LEAD)
    await engine.acknowledge_escalation(incident.id, 1, LEAD)
    with pytest.raises(BotError, match="level 1 was already acknowledged by lead"):
        await engine.acknowledge_escalation(incident.id, 1, LEAD)
    await engine.resolve(incident.id, LEAD)
    for attempt in (
        engine.escalate_now(incident.id, 1, LEAD),
        engine.snooze(incident.id, "reminder", 10, LEAD),
        engine.mute_reminders(incident.id, LEAD),
    ):
        with pytest.raises(BotError, match=f"{incident.id} is resolved"):
            await attempt


async def test_a_claim_left_by_a_stopped_replica_runs_out_and_another_fires(bench: Bench) -> None:
    engine, recorder = bench.engine(), Recorder()
    incident = await engine.open("fast", "api", LEAD)
    # A replica stopped (SIGSTOP) or killed just after claiming level 1: it never renews.
    key = _claim(incident.id, "escalation-1")
    assert await engine.store.claim(key, "stopped", ttl_s=CLAIM_TTL_S)
    scheduler = Scheduler(engine, recorder, owner="awake", retry_delay=0.2)
    bench.schedulers.append(scheduler)
    await scheduler.start()

    await eventually(lambda: len(recorder.of(incident.id, "escalation")) == 2)
    # When the stopped one wakes, its claim is gone and the level is recorded as fired.
    assert not await engine.store.renew(key, "stopped", CLAIM_TTL_S)
    with pytest.raises(BotError, match=r"escalation-1 of INC-\d+ is no longer pending"):
        await engine.fire_timer(incident.id, "escalation-1", late=False)
    # Each level told once (level 1, held up by the claim, may come after level 2).
    assert sorted(n.level or 0 for n in recorder.of(incident.id, "escalation")) == [1, 2]


# --- separate processes ------------------------------------------------------------------

SCRIPT = """
import asyncio, json, sys
from pathlib import Path
from bot.config import Config
from bot.engine.engine import Engine
from bot.engine.scheduler import CLAIM_TTL_S, Scheduler, _claim
from bot.executors.registry import ExecutorRegistry
from bot.playbooks.loader import load_playbooks
from bot.store import RedisStore, SqliteStore
from bot.templates import TemplateRenderer
from bot.engine.recovery import Interruption

args = json.loads(sys.argv[1])


def say(**fields):
    print(json.dumps(fields), flush=True)


class Printer:
    async def escalation_due(self, incident, level, contacts, late):
        key = incident.timers.fired[-1]
        say(kind="escalation", incident=incident.id, key=key, late=late, level=level.level)

    async def status_reminder(self, incident, late):
        key = incident.timers.fired[-1]
        say(kind="reminder", incident=incident.id, key=key, late=late)

    async def commander_needed(self, incident, late):
        key = incident.timers.fired[-1]
        say(kind="commander", incident=incident.id, key=key, late=late)


async def main():
    if args["redis_url"]:
        store = RedisStore(args["redis_url"], args["prefix"])
    else:
        store = SqliteStore(args["sqlite"])
    templates = TemplateRenderer(Path(args["repo"]) / "templates")
    playbooks = load_playbooks(Path(args["playbooks"]), templates)
    config = Config.model_validate(args["config"])
    engine = Engine(playbooks, config, store, ExecutorRegistry([]), templates)
    scheduler = Scheduler(engine, Printer(), owner=args["owner"], sync_interval=0.3)
    async with scheduler:
        say(kind="ready")
        await asyncio.to_thread(sys.stdin.read)
    await store.close()


asyncio.run(main())
"""


class TimerProcess:
    """A bot process that only runs timers and prints each firing as a JSON line."""

    def __init__(self, bench: Bench, owner: str) -> None:
        args = {
            **bench.store_args(),
            "repo": str(REPO),
            "playbooks": str(bench.playbook_dir),
            "config": CONFIG,
            "owner": owner,
        }
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, json.dumps(args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[dict[str, Any]] = []

    async def read_until(self, check: Callable[[dict[str, Any]], bool]) -> None:
        assert self.process.stdout is not None
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            line = await asyncio.to_thread(self.process.stdout.readline)
            assert line, f"the timer process ended: {self.stderr()}"
            self.lines.append(json.loads(line))
            if check(self.lines[-1]):
                return
        raise AssertionError("gave up waiting")

    def stderr(self) -> str:
        assert self.process.stderr is not None
        return self.process.stderr.read()[-2000:] if self.process.poll() is not None else ""

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self) -> list[dict[str, Any]]:
        """End it as an operator would, and everything it printed."""
        out, err = self.process.communicate("", timeout=TIMEOUT_S)
        assert self.process.returncode == 0, err[-2000:]
        self.lines += [json.loads(line) for line in out.splitlines()]
        return self.lines


async def test_a_nudge_missed_while_down_fires_once_at_start_marked_late(bench: Bench) -> None:
    engine = bench.engine()
    first = TimerProcess(bench, "first")
    try:
        await first.read_until(lambda line: line["kind"] == "ready")
        incident = await engine.open("slow", "api", LEAD)
        # A reminder of this incident shows the process armed its timers; kill it well before
        # the first level (5 s), as a crash would.
        await first.read_until(lambda line: line.get("incident") == incident.id)
    finally:
        first.kill()
    assert not [line for line in first.lines if line["kind"] == "escalation"]
    level_2_after = engine.playbook("slow").escalation[1].after
    assert level_2_after is not None
    level_2_due = incident.opened_at + level_2_after
    await asyncio.sleep(max(0.0, (level_2_due - datetime.now(UTC)).total_seconds()) + 1.0)

    second = TimerProcess(bench, "second")
    try:
        await second.read_until(lambda line: line["kind"] == "ready")
        await second.read_until(lambda line: line.get("level") == 2)
        await second.read_until(lambda line: line["kind"] == "reminder" and not line["late"])
    finally:
        lines = second.stop()
    escalations = [(x["level"], x["late"]) for x in lines if x["kind"] == "escalation"]
    assert sorted(escalations) == [(1, True), (2, True)]
    reminders = [x["late"] for x in lines if x["kind"] == "reminder"]
    # Several reminders were missed while it was down: one late reminder, then on time.
    assert reminders[0] is True
    assert reminders.count(True) == 1
    stored = await engine.get(incident.id)
    assert stored.timers.fired.count("escalation-1") == 1
    assert stored.timers.fired.count("escalation-2") == 1
    assert any("(late:" in e.text for e in stored.timeline if e.event == "escalation-due")


async def test_two_processes_fire_each_nudge_exactly_once(bench: Bench) -> None:
    if bench.store_kind != "redis":
        pytest.skip("replicas share Redis")
    engine = bench.engine()
    processes = [TimerProcess(bench, "replica-a"), TimerProcess(bench, "replica-b")]
    try:
        for process in processes:
            await process.read_until(lambda line: line["kind"] == "ready")
        incidents = [await engine.open("fast", "api", LEAD) for _ in range(4)]

        async def all_fired() -> bool:
            for incident in incidents:
                fired = (await engine.get(incident.id)).timers.fired
                reminders = [k for k in fired if k.startswith("reminder")]
                if "escalation-2" not in fired or len(reminders) < 3:
                    return False
            return True

        await eventually(all_fired)
    finally:
        lines = [line for p in processes for line in p.stop() if line["kind"] != "ready"]
    told = [(line["incident"], line["key"]) for line in lines]
    assert len(told) == len(set(told)), "a firing was told twice"
    for incident in incidents:
        fired = (await engine.get(incident.id)).timers.fired
        assert len(fired) == len(set(fired))
        assert sorted(fired) == sorted(key for id_, key in told if id_ == incident.id)
        assert sorted(
            line["level"]
            for line in lines
            if line.get("incident") == incident.id and "level" in line
        ) == [1, 2]


# --- a store failing over -----------------------------------------------------------------


class Unanswering:
    """The store, answering nothing while `down` (no primary yet: Sentinel is promoting)."""

    def __init__(self, store: Store) -> None:
        self.store, self.down = store, False

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.store, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise StoreError("redis store: No master found for 'runbook'")
            return await method(*args, **kwargs)

        return call


async def test_a_nudge_due_while_the_store_has_no_primary_fires_soon_after(bench: Bench) -> None:
    engine, recorder = bench.engine(), Recorder()
    incident = await engine.open("fast", "api", LEAD)
    store = Unanswering(engine.store)
    engine.store = store
    # The sync is far off: only the recheck retrying through the outage can fire it in time.
    scheduler = Scheduler(engine, recorder, owner="through", sync_interval=600.0, retry_delay=0.2)
    bench.schedulers.append(scheduler)
    await scheduler.start()
    store.down = True
    await asyncio.sleep(2.5)  # both levels fall due (1 s, 2 s) and fail, and their rechecks
    assert recorder.of(incident.id, "escalation") == []
    store.down = False
    await eventually(lambda: len(recorder.of(incident.id, "escalation")) == 2)
    await asyncio.sleep(0.5)
    assert sorted(n.level or 0 for n in recorder.of(incident.id, "escalation")) == [1, 2]
