"""Scale: three `serve` replicas behind HAProxy sharing Redis, against one replica on SQLite.

Everything is real and on loopback: the replicas are `runbook-bot serve` processes, HAProxy
(Debian's package) balances Slack's requests over them, the store is Redis behind Sentinel (a
primary, two replicas, three sentinels; `--store redis`: one redis-server), the cluster is the
drill sandbox and Slack's Web API the test stand-in (both in this process). The driver opens
`--incidents` incidents with signed `/incident` commands at `--rate` a second and clicks each
headline's claim-commander button once, at the same rate, as Slack would send them. The
playbook's escalation levels are shortened (data only) so that both fall due in the run, and
so is the replicas' timer sync (`--sync`, RUNBOOK_BOT_TIMER_SYNC_S) in proportion.

First one replica on the embedded store (the baseline), then the fleet, then the fleet again
under each fault (`--faults`): `kill` (kill -9 one replica mid-load), `pause` (SIGSTOP one
replica for 10 s, then SIGCONT), `primary` (kill -9 the Redis primary; Sentinel only). Each
run prints its ledger: what was lost, done twice or late. Figures: ack p50/p99 (every command
and click), clicks acked per second in a burst, Redis commands per click (INFO commandstats
until the clicks' work is done, less what the replicas send unprompted), RSS per replica,
nudges posted per due nudge, the ledger's counts for every run and the failover times.

    .venv/bin/python bench/scale.py [--incidents 200] [--rate 8] [--faults kill,pause,primary]
        [--store sentinel|redis] [--replicas 3] [--level2 20] [--level3 30] [--sync 5]
        [--logs DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import aiohttp

from bench.ack_latency import CHANNEL, REPO, log_text, server_env, settle
from bench.backing import Backing, backing
from bench.faults import FAULTS, Fault
from bench.fleet import Fleet, fleet
from bench.ledger import NUDGE_GRACE_S, Ledger, account, all_nudged, incidents, last_due
from bench.load import CallClock, Load, Sent, by_kind, click, drive, latencies, post, summary_of
from bench.redis_stats import command_count
from bench.table import Figure, add_json_option, write_figures
from bot.drills.kubernetes import Sandbox
from bot.store import RedisStore, SqliteStore, Store
from tests.support.slack_api import SlackApiStandIn

BENCHMARK = "scale"
STORES = {"sentinel": "Redis behind Sentinel", "redis": "one redis-server"}
# Read by bench/run_all.py: the baseline, the fleet and three fault runs of 200 incidents.
TIMEOUT_S = 1800
# What a replica logs when its claim expired under it (bot/engine/lease.py).
LOST_CLAIM = "lost the claim"
BURST = 100
BURST_CONCURRENCY = 25


def fast_playbooks(folder: Path, level2: float, level3: float) -> dict[int, timedelta]:
    """api-down with both escalation levels due seconds after opening; returns the delays."""
    text = (REPO / "playbooks" / "api-down.yml").read_text(encoding="utf-8")
    text = text.replace("after: 15m", f"after: {level2:g}s").replace(
        "after: 30m", f"after: {level3:g}s"
    )
    folder.mkdir(parents=True)
    (folder / "api-down.yml").write_text(text, encoding="utf-8")
    return {2: timedelta(seconds=level2), 3: timedelta(seconds=level3)}


@dataclass
class Run:
    """One configuration's measurements."""

    name: str
    sent: list[Sent] = field(default_factory=list)
    burst_rate: float = 0.0
    redis_per_click: float | None = None
    rss_kib: list[int] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def percentile(self, q: int) -> float:
        samples = latencies(self.sent)
        if len(samples) < 2:
            return float("nan")
        return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


@dataclass(frozen=True)
class Setup:
    incidents: int
    rate: float
    levels: dict[int, timedelta]
    playbooks: Path
    sync_s: float
    logs: Path | None = None  # where each run's replica and HAProxy logs are kept


async def burst(
    session: aiohttp.ClientSession, f: Fleet, api: SlackApiStandIn, load: Load
) -> float:
    """Clicks acked per second when BURST clicks arrive BURST_CONCURRENCY at a time."""
    buttons = list(load.buttons.values())
    if not buttons:
        return 0.0
    records = [Sent("burst", buttons[n % len(buttons)].incident, 0.0) for n in range(BURST)]
    slots = asyncio.Semaphore(BURST_CONCURRENCY)

    async def one(n: int) -> None:
        async with slots:
            records[n].sent_at = time.perf_counter()
            body = click(api, buttons[n % len(buttons)], api.response_url(CHANNEL))
            await post(session, f.url, body, records[n])

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(BURST)))
    return sum(r.status == 200 for r in records) / (time.perf_counter() - started)


async def wait_for_nudges(store: Store, api: SlackApiStandIn, setup: Setup) -> None:
    """Until every level of every incident was posted, or the grace after the last due ran out."""
    while True:
        found = await incidents(store)
        if all_nudged(api, found, setup.levels):
            return
        if time.time() > last_due(found, setup.levels) + NUDGE_GRACE_S:
            return
        await asyncio.sleep(0.5)


async def one_run(
    name: str, replicas: int, redis: Backing | None, fault: Fault | None,
    setup: Setup, sandbox: Sandbox, folder: Path,
) -> Run:  # fmt: skip
    """One configuration from start to stop: load, fault, nudges, ledger, burst, memory; with a
    Slack of its own, so incident ids of another run do not count."""
    async with SlackApiStandIn() as api:
        return await measured(name, replicas, redis, fault, setup, api, sandbox, folder)


async def measured(
    name: str, replicas: int, redis: Backing | None, fault: Fault | None,
    setup: Setup, api: SlackApiStandIn, sandbox: Sandbox, folder: Path,
) -> Run:  # fmt: skip
    kind = redis.kind if redis else "sqlite"
    print(f"  {name}: {replicas} replica(s), {kind}", flush=True)
    env = server_env(api, sandbox, folder)
    env["RUNBOOK_BOT_PLAYBOOKS"] = str(setup.playbooks)
    env["RUNBOOK_BOT_TIMER_SYNC_S"] = f"{setup.sync_s:g}"
    store: Store = SqliteStore(folder / "state.db")
    if redis is not None:
        env["REDIS_URL"] = redis.url
        store = RedisStore(redis.url)
    run = Run(name)
    load = Load(run=re.sub(r"\W", "", name))
    clock = CallClock(api)
    async with aiohttp.ClientSession() as session, fleet(replicas, env, folder, session) as f:
        clock.start()
        began = time.time()
        acting = None
        if fault is not None and redis is not None:
            acting = asyncio.create_task(fault.act(f, redis, began, setup))
        await drive(session, f.url, api, sandbox.service_name, load, setup.incidents, setup.rate)
        if acting is not None:
            seen = await acting
            run.notes += seen.notes
            run.timings = seen.timings
        await wait_for_nudges(store, api, setup)
        await clock.stop()
        run.ledger = account(load, api, clock, await incidents(store), setup.levels)
        primary = await asyncio.to_thread(redis.primary_url) if redis else ""
        # Two timer syncs' worth of what the replicas send unprompted, taken off the burst's.
        quiet_s = 2 * setup.sync_s
        if redis is not None:
            quiet = await command_count(primary)
            await asyncio.sleep(quiet_s)
            background = (await command_count(primary) - quiet) / quiet_s
        started = time.perf_counter()
        before = await command_count(primary) if redis else 0
        run.burst_rate = await burst(session, f, api, load)
        if redis is not None:
            # The clicks' work goes on after their acks: count until it is done.
            await settle(api)
            spent = await command_count(primary) - before
            unprompted = background * (time.perf_counter() - started)
            run.redis_per_click = max(0.0, spent - unprompted) / BURST
        run.rss_kib = [r.rss_kib() for r in f.replicas if not r.killed]
        for replica in f.replicas:
            lost = log_text(replica.log).count(LOST_CLAIM)
            if lost:
                run.notes.append(f"{replica.name} found {lost} claim(s) taken over when it woke")
    await store.close()
    if setup.logs is not None:
        kept = setup.logs / load.run
        shutil.copytree(folder, kept, ignore=shutil.ignore_patterns("*.db*", "kubeconfig"))
    run.sent = load.sent
    report(run)
    return run


def report(run: Run) -> None:
    for kind in ("command", "click"):
        counts = summary_of(by_kind(run.sent, kind))
        print(f"    {kind}s: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(
        f"    ack p50 {run.percentile(50) * 1000:.1f} ms, p99 {run.percentile(99) * 1000:.1f} ms; "
        f"burst {run.burst_rate:.1f} clicks/s; RSS "
        + ", ".join(f"{kib / 1024:.0f} MiB" for kib in run.rss_kib)
        + (f"; Redis commands per click {run.redis_per_click:.1f}" if run.redis_per_click else "")
    )
    for line in [*run.notes, *run.ledger.lines()]:
        print(f"    {line}", flush=True)


def figures(single: Run, scaled: Run, faulted: list[Run]) -> list[Figure]:
    """The table: the fleet against the one replica, then every run's ledger."""

    def ms(run: Run, q: int) -> float:
        return run.percentile(q) * 1000

    mib = [kib / 1024 for kib in scaled.rss_kib]
    rows = [
        Figure(BENCHMARK, "ack p50, fleet / one replica", ms(scaled, 50), "ms", ms(single, 50)),
        Figure(BENCHMARK, "ack p99, fleet / one replica", ms(scaled, 99), "ms", ms(single, 99)),
        Figure(
            BENCHMARK,
            "clicks acked per second (burst)",
            scaled.burst_rate,
            "/s",
            single.burst_rate,
        ),
        Figure(BENCHMARK, "Redis commands per click", scaled.redis_per_click or 0.0),
        Figure(
            BENCHMARK,
            "RSS per replica (largest)",
            max(mib, default=0.0),
            "MiB",
            single.rss_kib[0] / 1024 if single.rss_kib else None,
        ),
        Figure(
            BENCHMARK,
            "nudges posted per due nudge",
            scaled.ledger.nudges.per_due,
            "",
            single.ledger.nudges.per_due,
        ),
    ]
    for run in [single, scaled, *faulted]:
        ledger = run.ledger
        for what, count in (("lost", ledger.lost), ("doubled", ledger.doubled)):
            rows.append(Figure(BENCHMARK, f"{run.name}: {what}", count, goal_below=1))
        rows.append(Figure(BENCHMARK, f"{run.name}: late nudges", ledger.late, goal_below=1))
        for what, seconds in run.timings.items():
            rows.append(Figure(BENCHMARK, f"{run.name}: {what} after", seconds, "s"))
    return rows


async def main(args: argparse.Namespace) -> list[Figure]:
    faults = [FAULTS[name] for name in args.faults]
    for unfit in [f for f in faults if f.needs and f.needs != args.store]:
        print(f"  skipped fault {unfit.name!r}: it needs --store {unfit.needs}")
        faults.remove(unfit)
    print(
        f"scale: {args.incidents} incidents at {args.rate:g}/s (and as many clicks), levels due "
        f"after {args.level2:g} s and {args.level3:g} s; one replica (sqlite), then "
        f"{args.replicas} behind HAProxy on {STORES[args.store]}; "
        f"faults: {', '.join(f.name for f in faults) or 'none'}"
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp,
        Sandbox.start(ready_delay=0.0) as sandbox,
    ):
        root = Path(tmp)
        levels = fast_playbooks(root / "playbooks", args.level2, args.level3)
        setup = Setup(args.incidents, args.rate, levels, root / "playbooks", args.sync, args.logs)
        for sub in ("a", *(f"b{n}" for n in range(len(faults) + 1))):
            (root / sub).mkdir()
        single = await one_run("one replica", 1, None, None, setup, sandbox, root / "a")
        runs: list[Run] = []
        for index, fault in enumerate([None, *faults]):
            with backing(args.store) as redis:
                name = "fleet" if fault is None else f"fleet, {fault.name}"
                folder = root / f"b{index}"
                runs.append(
                    await one_run(name, args.replicas, redis, fault, setup, sandbox, folder)
                )
    return figures(single, runs[0], runs[1:])


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=200)
    parser.add_argument("--rate", type=float, default=8.0, help="commands a second (and clicks)")
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument(
        "--faults",
        type=lambda text: [f for f in text.split(",") if f],
        default=list(FAULTS),
        help=f"comma-separated, of: {', '.join(FAULTS)} (empty: none)",
    )
    parser.add_argument(
        "--store",
        choices=list(STORES),
        default="sentinel",
        help="the fleet's Redis: primary, 2 replicas, 3 sentinels; or one redis-server",
    )
    parser.add_argument("--level2", type=float, default=20.0, help="seconds to level 2")
    parser.add_argument("--level3", type=float, default=30.0, help="seconds to level 3")
    parser.add_argument(
        "--sync",
        type=float,
        default=5.0,
        help="RUNBOOK_BOT_TIMER_SYNC_S: how soon a replica arms another's incidents (serve: 60)",
    )
    parser.add_argument("--logs", type=Path, help="keep every run's server logs in this folder")
    add_json_option(parser)
    args = parser.parse_args(argv)
    unknown = [f for f in args.faults if f not in FAULTS]
    if unknown:
        parser.error(f"unknown fault {', '.join(unknown)} (there are: {', '.join(FAULTS)})")
    return args


if __name__ == "__main__":
    arguments = parse()
    write_figures(arguments.json, asyncio.run(main(arguments)))
    sys.exit(0)
