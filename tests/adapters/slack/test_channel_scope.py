"""An incident's buttons act in its own room; elsewhere its status is read-only."""

from __future__ import annotations

import json
from typing import Any

from bot.adapters.slack import actions
from bot.adapters.slack.actions import ButtonValue
from tests.adapters.slack.conftest import ALICE, BOB, CAROL, SlackBot
from tests.adapters.slack.test_flow import _open, _told, _until


def _has_buttons(ack: dict[str, Any]) -> bool:
    return any(b.get("type") == "actions" for b in ack.get("blocks") or [])


async def test_status_elsewhere_is_read_only_and_forged_clicks_change_nothing(
    slack_bot: SlackBot,
) -> None:
    bot = slack_bot
    room = await _open(bot)
    bot.api.add_channel("random", channel_id="C0RANDOM", members=[ALICE, BOB, CAROL])

    elsewhere = await bot.command("status INC-0001", user=CAROL, channel="C0RANDOM")
    assert "INC-0001" in json.dumps(elsewhere) and not _has_buttons(elsewhere)
    assert not _has_buttons(await bot.command("status INC-0001", channel="C0GENERAL"))
    assert _has_buttons(await bot.command("status INC-0001", channel=room))

    value = ButtonValue("INC-0001").encode()
    for action_id in (actions.COMMANDER, actions.RESOLVE, actions.STATUS_MODAL):
        forged = {"action_id": action_id, "value": value, "_channel": "C0RANDOM"}
        assert await bot.click(forged, user=CAROL) == 200
    await _until(
        lambda: (
            sum("act only in its room" in str(c.params.get("text")) for c in bot.api.calls) >= 3
        ),
        "three refusals",
    )
    incident = await bot.engine.get("INC-0001")
    assert incident.commander is None and incident.status == "open"
    assert not bot.api.calls_to("views.open")
    assert f"<@{CAROL}>" not in bot.texts(room)

    # In the room the same button acts.
    await bot.click(bot.button(room, actions.COMMANDER), user=CAROL)
    await _until(lambda: f"<@{CAROL}> is now incident commander" in bot.texts(room), "the claim")
    assert (await bot.engine.get("INC-0001")).commander == CAROL.lower()  # its label: the name
    assert not _told(bot, "KeyError")
