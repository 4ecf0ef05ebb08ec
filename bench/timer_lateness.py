"""How late timers fire: 100 incidents with staggered escalation levels and status reminders.

Opens the incidents at once over five playbooks whose levels are due 1..5 s and 3..7 s after
opening, each reminding every 2 s, and measures every firing's lateness (notified minus due)
until every level has fired. Prints p50, p99 and the worst. Goal: p99 < 1 s.

    .venv/bin/python bench/timer_lateness.py [--incidents 100] [--redis-url redis://...]
        [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from bench.table import Figure, add_json_option, write_figures
from bot.config import Config, EscalationContact
from bot.engine.engine import Engine
from bot.engine.incident import Actor, Incident
from bot.engine.recovery import Interruption
from bot.engine.scheduler import Scheduler
from bot.executors.registry import ExecutorRegistry
from bot.playbooks.loader import load_playbooks
from bot.playbooks.models import EscalationLevel
from bot.store import RedisStore, SqliteStore, Store
from bot.templates import TemplateRenderer

REPO = Path(__file__).resolve().parents[1]
ACTOR = Actor(id="bench")
STAGGER = 5
STEP = {"id": "x", "kind": "manual", "title": "X"}
BENCHMARK = "timer lateness"


def write_playbooks(directory: Path) -> None:
    for k in range(1, STAGGER + 1):
        playbook = {
            "id": f"stagger-{k}",
            "title": f"Levels at {k}s and {k + 2}s",
            "severity": "low",
            "platform": "kubernetes",
            "status_update_interval": "2s",
            "stages": [{"id": "only", "title": "Only", "steps": [STEP]}],
            "escalation": [
                {"level": 1, "title": "First", "after": f"{k}s"},
                {"level": 2, "title": "Second", "after": f"{k + 2}s"},
            ],
        }
        (directory / f"stagger-{k}.yml").write_text(yaml.safe_dump(playbook), encoding="utf-8")


class Lateness:
    """A notifier that measures how long after its due time each firing arrives."""

    def __init__(self) -> None:
        self.escalations: list[float] = []
        self.reminders: list[float] = []
        self.late_flags = 0

    async def escalation_due(
        self,
        incident: Incident,
        level: EscalationLevel,
        contacts: EscalationContact | None,
        late: bool,
    ) -> None:
        due = incident.opened_at + (level.after or timedelta(0))
        self.escalations.append((datetime.now(UTC) - due).total_seconds())
        self.late_flags += late

    async def status_reminder(self, incident: Incident, late: bool) -> None:
        due = datetime.fromisoformat(incident.timers.fired[-1].split("@", 1)[1])
        self.reminders.append((datetime.now(UTC) - due).total_seconds())
        self.late_flags += late

    async def commander_needed(self, incident: Incident, late: bool) -> None:
        """Not measured: the benchmark's incidents are about reminders and escalations."""

    async def fix_interrupted(self, interruption: Interruption) -> None:
        """No fix runs in this benchmark; an interruption would be a bug in it."""
        raise AssertionError(f"unexpected interrupted fix: {interruption.text}")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def run(
    incidents: int, redis_url: str | None, workdir: Path, json_path: Path | None = None
) -> int:
    write_playbooks(workdir)
    templates = TemplateRenderer(REPO / "templates")
    playbooks = load_playbooks(workdir, templates)
    config = Config.model_validate({"services": {"api": {}}})
    store: Store = (
        RedisStore(redis_url, f"bench-timers-{uuid.uuid4().hex}:")
        if redis_url
        else SqliteStore(workdir / "state.db")
    )
    engine = Engine(playbooks, config, store, ExecutorRegistry([]), templates)
    measured = Lateness()
    scheduler = Scheduler(engine, measured, owner="bench")
    started = time.perf_counter()
    try:
        await scheduler.start()
        for index in range(incidents):
            await engine.open(f"stagger-{index % STAGGER + 1}", "api", ACTOR)
        opened = time.perf_counter() - started
        deadline = time.monotonic() + 60
        while len(measured.escalations) < 2 * incidents and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    finally:
        await scheduler.stop()
        await store.close()
    if len(measured.escalations) < 2 * incidents:
        print(f"only {len(measured.escalations)} of {2 * incidents} levels fired", file=sys.stderr)
        return 1
    every = measured.escalations + measured.reminders
    kind = "redis" if redis_url else "sqlite"
    print(f"store: {kind}; {incidents} incidents opened in {opened:.2f} s")
    print(
        f"firings: {len(every)} ({len(measured.escalations)} escalation nudges, "
        f"{len(measured.reminders)} reminders); marked late: {measured.late_flags}"
    )
    for name, values in (("all", every), ("escalations", measured.escalations)):
        print(
            f"lateness {name:<12} p50 {statistics.median(values) * 1000:7.1f} ms   "
            f"p99 {percentile(values, 0.99) * 1000:7.1f} ms   max {max(values) * 1000:7.1f} ms"
        )
    p99 = percentile(every, 0.99)
    print(f"goal p99 < 1 s: {'met' if p99 < 1.0 else 'NOT met'}")
    write_figures(
        json_path,
        [
            Figure(BENCHMARK, f"lateness p50 ({kind})", statistics.median(every) * 1000, "ms"),
            Figure(BENCHMARK, f"lateness p99 ({kind})", p99 * 1000, "ms", goal_below=1000),
        ],
    )
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100)
    parser.add_argument("--redis-url", default=None)
    add_json_option(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-timers-") as workdir:
        sys.exit(asyncio.run(run(args.incidents, args.redis_url, Path(workdir), args.json)))


if __name__ == "__main__":
    main()
