"""Approvals: a fix runs once, only after an allowed approver says so, and never after a no."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.drills.kubernetes import Sandbox
from bot.engine.engine import Engine
from bot.engine.incident import Actor, Approval, Incident
from bot.errors import InvalidRequest, NotAllowed, NotFound
from tests.engine.conftest import Kube, MakeEngine


async def opened(engine: Engine, sandbox: Sandbox, actor: Actor) -> Incident:
    return await engine.open("api-down", sandbox.service_name, actor, "API returns 503")


def events(incident: Incident, event: str) -> int:
    return sum(1 for entry in incident.timeline if entry.event == event)


def image(kube: Kube) -> str:
    return str(kube.deployment()["spec"]["template"]["spec"]["containers"][0]["image"])


@pytest.mark.parametrize("store_kind", ["sqlite", "redis"])
@pytest.mark.parametrize("engines", ["one engine", "two engines"])
async def test_a_double_approval_applies_the_fix_once(
    make_engine: MakeEngine,
    sandbox: Sandbox,
    kube: Kube,
    lead: Actor,
    second: Actor,
    engines: str,
) -> None:
    # On a good image, so the restart's verification passes at once.
    kube.set_image("ecap/api:2.4.0")
    first = make_engine()
    other = first if engines == "one engine" else make_engine()
    incident = await opened(first, sandbox, lead)
    approval = await first.request_fix(incident.id, "restart", lead)
    replicasets, revision = kube.replicaset_names(), kube.revision()

    results = await asyncio.gather(
        first.approve(incident.id, approval.id, lead),
        other.approve(incident.id, approval.id, second),
        return_exceptions=True,
    )

    applied = [r for r in results if isinstance(r, Approval)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(applied) == 1 and len(refused) == 1, results
    assert isinstance(refused[0], InvalidRequest)
    assert "\n" not in str(refused[0])
    assert applied[0].state == "applied"
    stored = await other.get(incident.id)
    assert events(stored, "fix-approved") == 1
    assert events(stored, "fix-applied") == 1
    assert stored.approvals[approval.id].state == "applied"
    # Exactly one new revision: the restart went out once.
    assert len(kube.replicaset_names()) == len(replicasets) + 1
    assert kube.revision() == revision + 1


async def test_a_non_approver_is_refused_and_nothing_runs(
    engine: Engine, sandbox: Sandbox, kube: Kube, lead: Actor, outsider: Actor
) -> None:
    incident = await opened(engine, sandbox, lead)
    approval = await engine.request_fix(incident.id, "deploy-last-good", outsider)
    before = kube.deployment()["spec"]

    with pytest.raises(NotAllowed, match="outsider is not an approver"):
        await engine.approve(incident.id, approval.id, outsider)

    assert kube.deployment()["spec"] == before
    stored = await engine.get(incident.id)
    assert stored.approvals[approval.id].state == "pending"
    assert events(stored, "fix-approved") == 0
    # The refusal took no claim: an approver can still approve the same request.
    done = await engine.approve(incident.id, approval.id, lead)
    assert done.state == "applied"
    assert image(kube) == "ecap/api:2.4.0"


async def test_a_member_of_an_approver_group_may_approve(
    engine: Engine, sandbox: Sandbox, kube: Kube, lead: Actor
) -> None:
    member = Actor(id="U-MEMBER", name="member", groups=frozenset({"S-ONCALL"}))
    incident = await opened(engine, sandbox, lead)
    approval = await engine.request_fix(incident.id, "deploy-last-good", lead)

    done = await engine.approve(incident.id, approval.id, member)

    assert done.state == "applied"
    assert done.decided_by == member


async def test_a_destructive_fix_needs_a_second_person(
    engine: Engine, sandbox: Sandbox, kube: Kube, lead: Actor, second: Actor
) -> None:
    incident = await opened(engine, sandbox, lead)
    approval = await engine.request_fix(incident.id, "stop-traffic", lead)
    assert approval.destructive

    with pytest.raises(NotAllowed, match="destructive"):
        await engine.approve(incident.id, approval.id, lead)
    assert kube.service()["spec"]["selector"] == {"app": "ecap-api"}
    assert (await engine.get(incident.id)).approvals[approval.id].state == "pending"

    done = await engine.approve(incident.id, approval.id, second)

    assert done.state == "applied"
    assert kube.service()["spec"]["selector"] == {"app": "maintenance"}


async def test_an_approval_past_its_ttl_is_refused(
    make_engine: MakeEngine, sandbox: Sandbox, kube: Kube, lead: Actor, second: Actor
) -> None:
    engine = make_engine(approval_ttl=timedelta(milliseconds=1))
    incident = await opened(engine, sandbox, lead)
    approval = await engine.request_fix(incident.id, "deploy-last-good", lead)
    before = kube.deployment()["spec"]
    await asyncio.sleep(0.01)

    with pytest.raises(InvalidRequest, match="expired; request the fix again"):
        await engine.approve(incident.id, approval.id, second)

    assert kube.deployment()["spec"] == before
    assert events(await engine.get(incident.id), "fix-approved") == 0


async def test_a_denied_fix_cannot_be_approved(
    engine: Engine, sandbox: Sandbox, kube: Kube, lead: Actor, second: Actor
) -> None:
    incident = await opened(engine, sandbox, lead)
    approval = await engine.request_fix(incident.id, "deploy-last-good", lead)
    before = kube.deployment()["spec"]
    denied = await engine.deny(incident.id, approval.id, second, "not during the peak")
    assert denied.state == "denied"

    with pytest.raises(InvalidRequest, match="already denied by second"):
        await engine.approve(incident.id, approval.id, lead)

    assert kube.deployment()["spec"] == before
    stored = await engine.get(incident.id)
    assert stored.approvals[approval.id].state == "denied"
    assert events(stored, "fix-applied") == 0


async def test_approving_a_missing_approval_is_not_found(
    engine: Engine, sandbox: Sandbox, lead: Actor
) -> None:
    incident = await opened(engine, sandbox, lead)
    with pytest.raises(NotFound, match="no approval A9"):
        await engine.approve(incident.id, "A9", lead)
