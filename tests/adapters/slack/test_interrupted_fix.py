"""A fix cut short by a crash: the room is told, and a fresh approval is posted there."""

from __future__ import annotations

import json
from pathlib import Path

from bot.adapters.slack import actions
from bot.adapters.slack.factory import build_slack
from bot.engine.incident import Actor, Incident
from bot.engine.scheduler import Scheduler
from tests.adapters.slack.conftest import ALICE, BOB, SlackBot, bot_settings
from tests.adapters.slack.test_flow import _open, _until


async def test_an_interrupted_fix_is_told_in_the_room_and_asked_for_again(
    slack_bot: SlackBot, tmp_path: Path
) -> None:
    bot = slack_bot
    channel = await _open(bot)
    [incident] = await bot.engine.list_incidents()
    alice = Actor(id=ALICE, name="alice")
    approval = await bot.engine.request_fix(incident.id, "rollback", alice)

    def approved(current: Incident) -> None:
        # What a process killed right after storing the approval leaves behind.
        stored = current.approvals[approval.id]
        stored.state, stored.decided_by = "approved", Actor(id=BOB, name="bob")

    await bot.engine._mutate(incident.id, approved, alice)
    restarted = build_slack(
        bot.engine, bot.engine.config, bot_settings(bot.api, bot.sandbox, tmp_path)
    )

    async with Scheduler(bot.engine, restarted.notifier, owner="restarted"):
        await _until(lambda: "was interrupted" in bot.texts(channel), "the interruption")
        await _until(
            lambda: any(
                json.loads(b["value"]).get("a") == "A2"
                for b in bot.buttons(channel, actions.APPROVE)
            ),
            "the fresh approval",
        )

    texts = bot.texts(channel)
    assert "approval A1 was interrupted before it was applied" in texts
    assert "nothing reached the cluster" in texts
    fresh = [
        b for b in bot.buttons(channel, actions.APPROVE) if json.loads(b["value"]).get("a") == "A2"
    ]
    assert await bot.click(fresh[-1], user=BOB) == 200
    await _until(
        lambda: "*Applied*" in bot.texts(channel),
        "the fresh approval applied",
    )
    stored = await bot.engine.get(incident.id)
    assert stored.approvals["A1"].state == "interrupted"
    assert stored.approvals["A2"].state == "applied"
    assert sum(1 for e in stored.timeline if e.event == "fix-applied") == 1
