"""A fix cut short by a crash is found on start, told, offered again and never re-run."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from bot.drills.kubernetes import Sandbox
from bot.engine.engine import Engine
from bot.engine.incident import BOT, Actor, Incident
from bot.engine.recovery import Interruption
from bot.engine.scheduler import Scheduler
from tests.engine.conftest import Kube, MakeEngine


@dataclass
class Told:
    """A notifier that remembers the interruptions it was told about."""

    interruptions: list[Interruption] = field(default_factory=list)

    async def escalation_due(self, *args: object) -> None:
        pass

    async def status_reminder(self, *args: object) -> None:
        pass

    async def commander_needed(self, *args: object) -> None:
        pass

    async def fix_interrupted(self, interruption: Interruption) -> None:
        self.interruptions.append(interruption)


def image(kube: Kube) -> str:
    return str(kube.deployment()["spec"]["template"]["spec"]["containers"][0]["image"])


async def crashed_after_approving(engine: Engine, sandbox: Sandbox, lead: Actor) -> Incident:
    """An incident whose rollback was approved by a process that died before it ran it."""
    incident = await engine.open("api-down", sandbox.service_name, lead, "API returns 503")
    approval = await engine.request_fix(incident.id, "rollback", lead)

    def approved(current: Incident) -> None:
        stored = current.approvals[approval.id]
        stored.state, stored.decided_by, stored.decided_at = "approved", lead, engine.clock()

    return (await engine._mutate(incident.id, approved, lead))[0]


async def started(engine: Engine, told: Told) -> None:
    scheduler = Scheduler(engine, told, owner="restarted", retry_delay=0.2)
    await scheduler.start()
    await scheduler.stop()


@pytest.mark.parametrize("store_kind", ["sqlite", "redis"])
async def test_a_fix_approved_before_a_crash_is_reported_and_asked_for_again(
    make_engine: MakeEngine, sandbox: Sandbox, kube: Kube, lead: Actor, second: Actor
) -> None:
    incident = await crashed_after_approving(make_engine(), sandbox, lead)
    revision = kube.revision()
    restarted, told = make_engine(), Told()

    await started(restarted, told)

    assert kube.revision() == revision and image(kube) == "ecap/api:2.5.0"  # not re-run
    after = await restarted.get(incident.id)
    assert after.approvals["A1"].state == "interrupted"
    assert after.approvals["A1"].result is None
    fresh = after.approvals["A2"]
    assert fresh.state == "pending" and fresh.step_id == "rollback"
    assert fresh.requested_by == lead  # the two-person rule still counts the first requester
    assert "2.5.0 -> ecap/api:2.4.0" in fresh.preview.summary
    [entry] = [e for e in after.timeline if e.event == "fix-interrupted"]
    assert entry.actor == BOT.label
    assert "before it was applied" in entry.text
    assert "nothing reached the cluster" in entry.text
    assert "approval A2" in entry.text
    [interruption] = told.interruptions
    assert interruption.approval.id == "A1" and interruption.fresh is not None
    assert interruption.fresh.id == "A2" and interruption.text == entry.text

    # The old approval stays closed; the fresh one runs the fix once.
    with pytest.raises(Exception, match="already interrupted"):
        await restarted.approve(incident.id, "A1", second)
    applied = await restarted.approve(incident.id, "A2", second)
    assert applied.state == "applied"
    assert kube.revision() == revision + 1
    await restarted.resolve(incident.id, second, "bad deploy", "rolled back")
    document = await restarted.post_incident_document(incident.id)
    assert "Roll back to the previous revision (kubectl rollout undo): interrupted" in document
    assert "fix-interrupted" in document

    # A second start finds nothing left to reconcile.
    again = Told()
    await started(make_engine(), again)
    assert again.interruptions == []


async def test_a_fix_that_landed_before_the_crash_is_not_offered_again(
    make_engine: MakeEngine, sandbox: Sandbox, kube: Kube, lead: Actor
) -> None:
    incident = await crashed_after_approving(make_engine(), sandbox, lead)

    def applying(current: Incident) -> None:
        current.approvals["A1"].state = "applying"

    await make_engine()._mutate(incident.id, applying, BOT)
    # The change reached the cluster; the crash came before its result was stored.
    kube.set_image("ecap/api:2.4.0")
    restarted, told = make_engine(), Told()

    await started(restarted, told)

    after = await restarted.get(incident.id)
    assert after.approvals["A1"].state == "interrupted"
    assert list(after.approvals) == ["A1"]
    [interruption] = told.interruptions
    assert interruption.fresh is None
    assert "while it was being applied" in interruption.text
    assert "already in place" in interruption.text


async def test_a_fix_still_running_on_a_live_replica_is_left_alone(
    make_engine: MakeEngine, sandbox: Sandbox, kube: Kube, lead: Actor, second: Actor
) -> None:
    kube.set_image("ecap/api:2.4.0")
    first = make_engine()
    incident = await first.open("api-down", sandbox.service_name, lead, "API returns 503")
    approval = await first.request_fix(incident.id, "restart", lead)
    sandbox.set_latency(0.5)
    running = asyncio.create_task(first.approve(incident.id, approval.id, second))
    for _ in range(400):
        if (await first.get(incident.id)).approvals["A1"].state == "applying":
            break
        await asyncio.sleep(0.05)
    told = Told()

    await started(make_engine(), told)

    assert told.interruptions == []
    sandbox.set_latency(0)
    assert (await running).state == "applied"
    assert list((await first.get(incident.id)).approvals) == ["A1"]
