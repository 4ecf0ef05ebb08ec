"""The post-incident checklist in `runbook-bot drill`: worked after resolve, from a pipe."""

from __future__ import annotations

from tests.scenarios.test_drill import drill


def test_the_checklist_is_worked_after_resolving() -> None:
    t = drill(
        [
            "resolve bad deploy -- rolled back",
            "checklist",
            "check within-24h.0",
            "owner within-1w.1 bob",
            "uncheck within-24h.1",
            "check nope.1",
            "checklist",
        ]
    )
    assert "[ ] within-24h.0  Verify all systems are stable" in t.reply("checklist")
    assert "Follow-up (within 1 week) (due " in t.reply("checklist")
    assert "error: 'Document timeline of events' is already open" in t.reply("uncheck within-24h.1")
    assert "error: no checklist item 'nope.1'" in t.reply("check nope.1")
    final = t.reply("checklist", 1)
    assert "[x] within-24h.0  Verify all systems are stable" in final
    assert "[ ] within-1w.1  Update runbooks based on lessons learned (owner: bob)" in final
