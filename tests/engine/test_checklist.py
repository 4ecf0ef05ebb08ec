"""The post-incident checklist: ticked, unticked and owned after resolving, stored, documented."""

from __future__ import annotations

import pytest

from bot.drills.kubernetes import Sandbox
from bot.engine.engine import Engine
from bot.engine.incident import Actor
from bot.errors import InvalidRequest
from tests.engine.conftest import MakeEngine


async def _resolved(engine: Engine, sandbox: Sandbox, lead: Actor) -> str:
    incident = await engine.open("api-down", sandbox.service_name, lead, "API returns 503")
    await engine.resolve(incident.id, lead, "bad deploy", "rolled back")
    return incident.id


async def test_items_are_checked_unchecked_and_owned_on_a_resolved_incident(
    engine: Engine, sandbox: Sandbox, lead: Actor, second: Actor
) -> None:
    i = await _resolved(engine, sandbox, lead)

    checked = await engine.check_item(i, "within-24h.0", lead)
    item = checked.checklist["within-24h.0"]
    assert item.done and item.done_by == lead.label and item.done_at is not None
    assert checked.timeline[-1].event == "checklist-done"
    assert checked.timeline[-1].text == "Verify all systems are stable"
    with pytest.raises(InvalidRequest, match="already done by"):
        await engine.check_item(i, "within-24h.0", second)

    owned = await engine.assign_item(i, "within-1w.0", "carol", second)
    assert owned.checklist["within-1w.0"].owner == "carol"
    assert not owned.checklist["within-1w.0"].done
    assert owned.timeline[-1].event == "checklist-owner"

    unchecked = await engine.check_item(i, "within-24h.0", second, done=False)
    item = unchecked.checklist["within-24h.0"]
    assert not item.done and item.done_by == "" and item.done_at is None
    assert unchecked.timeline[-1].event == "checklist-reopened"
    assert unchecked.status == "resolved"


@pytest.mark.parametrize("key", ["within-24h.9", "nope.0", "within-24h", "within-24h.-1", ""])
async def test_an_unknown_key_is_a_one_line_refusal(
    engine: Engine, sandbox: Sandbox, lead: Actor, key: str
) -> None:
    i = await _resolved(engine, sandbox, lead)
    with pytest.raises(InvalidRequest) as refused:
        await engine.check_item(i, key, lead)
    assert "no checklist item" in str(refused.value) and "\n" not in str(refused.value)
    with pytest.raises(InvalidRequest):
        await engine.assign_item(i, key, "bob", lead)
    assert (await engine.get(i)).checklist == {}


async def test_the_checklist_persists_and_is_rendered_in_the_document(
    engine: Engine, make_engine: MakeEngine, sandbox: Sandbox, lead: Actor
) -> None:
    i = await _resolved(engine, sandbox, lead)
    await engine.check_item(i, "within-24h.1", lead)
    await engine.assign_item(i, "within-24h.1", "alice", lead)
    await engine.assign_item(i, "within-1w.3", "bob", lead)

    # Another process (a fresh engine and store over the same data) sees the same state.
    reloaded = await make_engine().get(i)
    assert reloaded.checklist["within-24h.1"].done
    assert reloaded.checklist["within-24h.1"].owner == "alice"
    assert reloaded.checklist["within-1w.3"].owner == "bob"

    document = await engine.post_incident_document(i)
    assert f"- [x] Document timeline of events (owner: alice, done by {lead.label})" in document
    assert "- [ ] Communicate findings to stakeholders (owner: bob)" in document
    assert "- [ ] Verify all systems are stable (owner: unassigned)" in document
    assert "### Immediate (within 24 hours) (due " in document
