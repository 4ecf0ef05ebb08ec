"""The Redis primary dies (Sentinel, Cluster): no acknowledged decision is lost, none doubled.

A real primary with two replicas and three sentinels; the engine's store waits for a replica
on every record write. The primary is killed (-9) right after an approval; once Sentinel has
promoted a replica, the approval's fix is there, applied once, and cannot run again. How long
writes stopped is measured and printed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.app import build_executors
from bot.config import Config, ServiceBinding
from bot.drills.kubernetes import Sandbox
from bot.engine.engine import Engine
from bot.engine.incident import Actor, Incident
from bot.engine.notifier import FIRING
from bot.engine.scheduler import Scheduler
from bot.errors import BotError, InvalidRequest, StoreError
from bot.executors.registry import ExecutorRegistry
from bot.playbooks.loader import load_playbooks
from bot.store import Record, Store
from bot.store.factory import open_bounded_store
from bot.templates import TemplateRenderer
from tests.engine.conftest import Kube
from tests.engine.test_interrupted import Told
from tests.engine.test_scheduler import write_playbook
from tests.support.redis_cluster import RedisCluster
from tests.support.redis_sentinel import RedisSentinel

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
LEAD = Actor(id="U-LEAD", name="lead")
SECOND = Actor(id="U-SECOND", name="second")
# Bounds a hang on a loaded box; the measured figure is printed, not asserted.
PROMOTION_TIMEOUT_S = 60.0


@pytest.fixture
def sentinel() -> Iterator[RedisSentinel]:
    # Two replicas: after a failover one is left to confirm writes.
    with RedisSentinel(replicas=2) as setup:
        yield setup


@pytest.fixture
def target(tmp_path: Path) -> Iterator[tuple[Sandbox, Kube]]:
    with Sandbox.start("oom-bad-deploy", ready_delay=0.0) as sandbox:
        kube = Kube(str(sandbox.write_kubeconfig(tmp_path / "kubeconfig")))
        yield sandbox, kube
        kube.close()


@pytest.fixture
async def replicas(
    sentinel: RedisSentinel, target: tuple[Sandbox, Kube], tmp_path: Path
) -> AsyncIterator[list[Engine]]:
    """Two engines, each with its own store on the Sentinel URL, like two bot replicas."""
    sandbox, _ = target
    templates = TemplateRenderer(REPO / "templates")
    playbooks = load_playbooks(REPO / "playbooks", templates)
    config = Config(
        services={sandbox.service_name: ServiceBinding.model_validate(sandbox.binding())},
        approvers=[LEAD.id, SECOND.id],
    )
    kubeconfig = str(sandbox.write_kubeconfig(tmp_path / "engine-kubeconfig"))
    engines: list[Engine] = []
    registries: list[ExecutorRegistry] = []
    for n in range(2):
        store = open_bounded_store(sentinel.url, tmp_path / f"unused-{n}.db")
        registries.append(build_executors(kubeconfig))
        engines.append(Engine(playbooks, config, store, registries[-1], templates))
    yield engines
    for engine in engines:
        await engine.store.close()
    for registry in registries:
        await registry.close()


def image(kube: Kube) -> str:
    return str(kube.deployment()["spec"]["template"]["spec"]["containers"][0]["image"])


def events(incident: Incident, event: str) -> int:
    return sum(1 for entry in incident.timeline if entry.event == event)


async def first_write_after(engine: Engine, incident_id: str, killed_at: float) -> float:
    """Seconds from the kill until a record write is stored and confirmed by a replica."""
    deadline = killed_at + PROMOTION_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            await engine.claim_commander(incident_id, LEAD)
            return time.monotonic() - killed_at
        except StoreError:
            await asyncio.sleep(0.05)
    raise AssertionError("no write succeeded after the primary was killed")


async def synced(engine: Engine) -> Told:
    told = Told()
    scheduler = Scheduler(engine, told, owner=f"sync-{id(engine)}", retry_delay=0.2)
    await scheduler.start()
    await scheduler.stop()
    return told


async def test_an_approval_acknowledged_before_the_primary_dies_runs_once_and_is_kept(
    sentinel: RedisSentinel,
    target: tuple[Sandbox, Kube],
    replicas: list[Engine],
    record_property: Callable[[str, object], None],
) -> None:
    sandbox, kube = target
    first, other = replicas
    incident = await first.open("api-down", sandbox.service_name, LEAD, "API returns 503")
    approval = await first.request_fix(incident.id, "rollback", LEAD)
    revision = kube.revision()

    applied = await first.approve(incident.id, approval.id, SECOND)
    killed_at = time.monotonic()
    old = sentinel.kill_primary()

    assert applied.state == "applied"
    failover_s = await first_write_after(other, incident.id, killed_at)
    record_property("failover_s", round(failover_s, 2))
    print(f"\nfailover: first confirmed write {failover_s:.2f} s after kill -9 of the primary")
    assert sentinel.primary_port() != old

    # Not forgotten: the other replica reads the approval applied, with its result.
    stored = await other.get(incident.id)
    assert stored.approvals[approval.id].state == "applied"
    assert stored.approvals[approval.id].result is not None
    assert events(stored, "fix-approved") == events(stored, "fix-applied") == 1
    # Not doubled: neither replica can run it again, and nothing is left to reconcile.
    for engine in (first, other):
        with pytest.raises(InvalidRequest):
            await engine.approve(incident.id, approval.id, LEAD)
    assert (await synced(other)).interruptions == []
    assert kube.revision() == revision + 1
    assert image(kube) == "ecap/api:2.4.0"


async def test_an_approval_no_replica_confirms_is_refused_and_asked_for_again(
    sentinel: RedisSentinel, target: tuple[Sandbox, Kube], replicas: list[Engine]
) -> None:
    sandbox, kube = target
    first, other = replicas
    incident = await first.open("api-down", sandbox.service_name, LEAD, "API returns 503")
    approval = await first.request_fix(incident.id, "rollback", LEAD)
    revision = kube.revision()

    sentinel.freeze_replicas()
    try:
        with pytest.raises(BotError) as refused:
            await first.approve(incident.id, approval.id, SECOND)
    finally:
        sentinel.thaw_replicas()

    message = str(refused.value)
    # Both replicas are in step with the primary until frozen: a write waits for both.
    assert "not confirmed by 2 replica(s)" in message and "\n" not in message
    assert kube.revision() == revision and image(kube) == "ecap/api:2.5.0"  # not run
    # Not forgotten: once replicas confirm again, the next sync asks for the fix afresh.
    told = await synced(other)
    [interruption] = told.interruptions
    assert interruption.fresh is not None
    applied = await other.approve(incident.id, interruption.fresh.id, SECOND)
    assert applied.state == "applied"
    assert kube.revision() == revision + 1


async def test_a_write_waits_for_every_replica_in_step_and_not_for_one_that_stalled(
    sentinel: RedisSentinel, tmp_path: Path
) -> None:
    # Sentinel promotes by the offsets it last polled: a write only one replica has could be
    # lost when the other is promoted, so every replica in step must confirm it.
    store = open_bounded_store(sentinel.url, tmp_path / "unused.db")
    try:
        await store.insert(Record("INC-0001", "open", 1, "{}"))
        stalled = sentinel.replica_ports()[0]
        sentinel.freeze_replica(stalled)
        try:
            with pytest.raises(StoreError) as refused:
                await store.insert(Record("INC-0002", "open", 1, "{}"))
            assert "not confirmed by 2 replica(s)" in str(refused.value)
            # Once it has not acknowledged for a while it is no longer waited for: the other
            # replica alone confirms, and writes go on.
            deadline = time.monotonic() + 30.0
            written = 2
            while True:
                written += 1
                try:
                    await store.insert(Record(f"INC-{written:04d}", "open", 1, "{}"))
                    break
                except StoreError as exc:
                    assert "not confirmed by 2 replica(s)" in str(exc)
                    assert time.monotonic() < deadline, "writes never resumed"
                    await asyncio.sleep(0.5)
        finally:
            sentinel.thaw_replicas()
    finally:
        await store.close()


async def test_on_a_cluster_a_confirmed_record_survives_its_primary_and_writes_resume(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    # Two replicas a primary, so one is left to confirm writes after a failover.
    with RedisCluster(replicas=2) as cluster:
        store = open_bounded_store(cluster.url + "?replicas=1", tmp_path / "unused.db")
        try:
            await store.insert(Record("INC-0001", "open", 1, json.dumps({"fix": "applied"})))
            killed_at = time.monotonic()
            old = cluster.kill_primary_of("runbook-bot:record:{INC-0001}")
            written = await rewritten(store, "INC-0001", killed_at)
            failover_s = time.monotonic() - killed_at
        finally:
            await store.close()
        record_property("cluster_failover_s", round(failover_s, 2))
        print(f"\ncluster failover: first confirmed write {failover_s:.2f} s after kill -9")
        assert cluster.wait_for_failover(old, "runbook-bot:record:{INC-0001}") != old
    # The confirmed insert was on the promoted replica: the record moved on from it.
    assert written.version >= 2
    assert json.loads(written.body) == {"fix": "applied"}


async def rewritten(store: Store, id: str, killed_at: float) -> Record:
    """The record written again as soon as its slot answers and a replica confirms."""
    while time.monotonic() < killed_at + PROMOTION_TIMEOUT_S:
        try:
            current = await store.load(id)
            assert current is not None, "the confirmed record was lost"
            return await store.replace(current)
        except StoreError:
            await asyncio.sleep(0.05)
    raise AssertionError("no write succeeded after the primary was killed")


# --- a nudge's firing cut by an unconfirmed write or a failover ----------------------------


@dataclass
class Poster:
    """A notifier that keeps the id of every escalation firing it is told of (twice: told twice)."""

    told: list[str] = field(default_factory=list)

    async def escalation_due(self, incident: Incident, *args: object) -> None:
        firing = FIRING.get()
        self.told.append(firing.id if firing else "")

    async def status_reminder(self, *args: object) -> None:
        pass

    async def commander_needed(self, *args: object) -> None:
        pass

    async def fix_interrupted(self, *args: object) -> None:
        pass


@pytest.fixture
async def nudging(sentinel: RedisSentinel, tmp_path: Path) -> AsyncIterator[list[Engine]]:
    """Two engines on the Sentinel URL with a playbook whose level 1 is due 2 s after opening."""
    folder = tmp_path / "playbooks"
    folder.mkdir()
    write_playbook(folder, "nudge", ("2s", "1h"), "1h")
    templates = TemplateRenderer(REPO / "templates")
    playbooks = load_playbooks(folder, templates)
    config = Config(services={"api": ServiceBinding()})
    engines = [
        Engine(
            playbooks,
            config,
            open_bounded_store(sentinel.url, tmp_path / f"unused-{n}.db"),
            ExecutorRegistry([]),
            templates,
        )
        for n in range(2)
    ]
    yield engines
    for engine in engines:
        await engine.store.close()


async def firing_posted_once(
    engines: list[Engine], incident_id: str, posters: list[Poster], timeout_s: float
) -> None:
    """Until level 1 was told once and recorded as posted; then a while more, told no more."""
    deadline = time.monotonic() + timeout_s
    while sum(len(p.told) for p in posters) < 1:
        assert time.monotonic() < deadline, "level 1 was never posted"
        await asyncio.sleep(0.1)
    while True:
        try:
            stored = await engines[1].get(incident_id)
            if not stored.timers.unposted:
                break
        except StoreError:
            pass
        assert time.monotonic() < deadline, "level 1 was posted but never recorded so"
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.5)
    assert [i for p in posters for i in p.told] == [f"{incident_id}/escalation-1"]
    assert stored.timers.fired.count("escalation-1") == 1


async def test_a_firing_no_replica_confirms_is_posted_once_when_they_confirm_again(
    sentinel: RedisSentinel, nudging: list[Engine]
) -> None:
    incident = await nudging[0].open("nudge", "api", LEAD)
    posters = [Poster(), Poster()]
    sentinel.freeze_replicas()
    try:
        async with AsyncExitStack() as stack:
            for n, (engine, poster) in enumerate(zip(nudging, posters, strict=True)):
                scheduler = Scheduler(engine, poster, owner=f"r{n}", retry_delay=0.2)
                await stack.enter_async_context(scheduler)
            await asyncio.sleep(4.0)
            # Fired on the primary and kept there, but no replica confirmed it: not posted.
            assert [i for p in posters for i in p.told] == []
            assert "escalation-1" in (await nudging[1].get(incident.id)).timers.unposted
            sentinel.thaw_replicas()
            await firing_posted_once(nudging, incident.id, posters, PROMOTION_TIMEOUT_S)
    finally:
        sentinel.thaw_replicas()


async def test_a_firing_no_replica_confirmed_is_posted_once_after_the_primary_dies(
    sentinel: RedisSentinel, nudging: list[Engine]
) -> None:
    incident = await nudging[0].open("nudge", "api", LEAD)
    posters = [Poster(), Poster()]
    sentinel.freeze_replicas()
    try:
        async with AsyncExitStack() as stack:
            for n, (engine, poster) in enumerate(zip(nudging, posters, strict=True)):
                scheduler = Scheduler(engine, poster, owner=f"r{n}", retry_delay=0.2)
                await stack.enter_async_context(scheduler)
            await asyncio.sleep(4.0)
            assert [i for p in posters for i in p.told] == []
            # The primary dies holding the unconfirmed firing; a replica is promoted, with the
            # firing or without it (fired again then): either way it is posted once.
            sentinel.kill_primary()
            sentinel.thaw_replicas()
            await firing_posted_once(nudging, incident.id, posters, PROMOTION_TIMEOUT_S)
    finally:
        sentinel.thaw_replicas()
