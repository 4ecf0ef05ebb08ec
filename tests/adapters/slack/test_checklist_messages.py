"""The post-incident checklist in Slack: posted on resolve, ticked and owned after resolving."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from bot.adapters.slack import actions
from tests.adapters.slack.conftest import BOB, SlackBot
from tests.adapters.slack.test_flow import _open, _until
from tests.support.slack_signing import block_action_payload


def _element_body(bot: SlackBot, element: dict[str, Any], action: dict[str, Any]) -> bytes:
    """A block_actions body for a checkboxes or users_select element (Bolt's shape for each)."""
    payload = block_action_payload(
        action_id=element["action_id"],
        value="",
        response_url=bot.api.response_url(element["_channel"]),
        channel_id=element["_channel"],
        message_ts=element["_ts"],
        block_id=element["_block"],
    )
    payload["actions"] = [
        {
            "action_id": element["action_id"],
            "block_id": element["_block"],
            "action_ts": f"{time.time():.6f}",
            **action,
        }
    ]
    return urlencode({"payload": json.dumps(payload)}).encode()


def _elements(bot: SlackBot, channel: str, action_id: str) -> list[dict[str, Any]]:
    found = []
    for message in bot.api.messages(channel):
        for block in message.get("blocks") or []:
            for element in [*(block.get("elements") or []), block.get("accessory") or {}]:
                if element.get("action_id") == action_id:
                    found.append(
                        {
                            **element,
                            "_channel": channel,
                            "_ts": message["ts"],
                            "_block": block["block_id"],
                        }
                    )
    return found


async def _resolve(bot: SlackBot, channel: str) -> None:
    await bot.click(bot.button(channel, actions.RESOLVE))
    await bot.api.wait_for("views.open", lambda c: actions.RESOLVE_VIEW in json.dumps(c.params))
    values = {
        "c": {actions.RESOLVE_CAUSE: {"type": "plain_text_input", "value": "bad deploy"}},
        "r": {actions.RESOLVE_RESOLUTION: {"type": "plain_text_input", "value": "rolled back"}},
    }
    assert await bot.submit(actions.RESOLVE_VIEW, "INC-0001", values) == 200
    count = _checklists(bot)
    await _until(lambda: len(_elements(bot, channel, actions.CHECKLIST)) == count, "the checklists")


def _checklists(bot: SlackBot) -> int:
    """How many post-incident checklists api-down has: one message each."""
    return len(bot.engine.playbooks["api-down"].post_incident)


async def test_checklists_are_ticked_and_owned_after_resolving(slack_bot: SlackBot) -> None:
    bot = slack_bot
    channel = await _open(bot)
    await _resolve(bot, channel)

    boxes = _elements(bot, channel, actions.CHECKLIST)
    assert [b["type"] for b in boxes] == ["checkboxes"] * _checklists(bot)
    first = boxes[0]
    assert [o["value"] for o in first["options"]] == [f"within-24h.{i}" for i in range(4)]
    assert "initial_options" not in first
    assert "Immediate (within 24 hours)" in bot.texts(channel)
    items = sum(len(c.items) for c in bot.engine.playbooks["api-down"].post_incident)
    assert len(_elements(bot, channel, actions.CHECKLIST_OWNER)) == items

    # Ticking two boxes sends the whole selection; both become done.
    ticked = [first["options"][0], first["options"][2]]
    chosen: dict[str, Any] = {"type": "checkboxes", "selected_options": ticked}
    assert (await bot.send(_element_body(bot, first, chosen))).status == 200
    await _until(
        lambda: (
            len(_elements(bot, channel, actions.CHECKLIST)[0].get("initial_options") or []) == 2
        ),
        "the message updated in place",
    )
    incident = await bot.engine.get("INC-0001")
    assert incident.status == "resolved"
    assert {k for k, v in incident.checklist.items() if v.done} == {"within-24h.0", "within-24h.2"}
    assert len(_elements(bot, channel, actions.CHECKLIST)) == _checklists(bot), (
        "updated, not posted again"
    )

    # Unticking one leaves the other done.
    first = _elements(bot, channel, actions.CHECKLIST)[0]
    kept = [first["options"][2]]
    await bot.send(_element_body(bot, first, {"type": "checkboxes", "selected_options": kept}))
    await _until(
        lambda: (
            len(_elements(bot, channel, actions.CHECKLIST)[0].get("initial_options") or []) == 1
        ),
        "the untick",
    )
    incident = await bot.engine.get("INC-0001")
    assert {k for k, v in incident.checklist.items() if v.done} == {"within-24h.2"}

    # An owner picked for one item is stored and shown.
    picker = _elements(bot, channel, actions.CHECKLIST_OWNER)[5]
    chosen = {"type": "users_select", "selected_user": BOB}  # Bolt's users_select shape
    await bot.send(_element_body(bot, picker, chosen))
    await _until(
        lambda: any(
            e.get("initial_user") == BOB for e in _elements(bot, channel, actions.CHECKLIST_OWNER)
        ),
        "the owner shown",
    )
    incident = await bot.engine.get("INC-0001")
    assert incident.checklist["within-1w.1"].owner == BOB
    assert [e.event for e in incident.timeline][-4:] == [
        "checklist-done",
        "checklist-done",
        "checklist-reopened",
        "checklist-owner",
    ]


async def test_a_checklist_tick_from_another_channel_changes_nothing(slack_bot: SlackBot) -> None:
    bot = slack_bot
    channel = await _open(bot)
    await _resolve(bot, channel)
    first = _elements(bot, channel, actions.CHECKLIST)[0]
    forged = {**first, "_channel": "C0GENERAL"}
    chosen: dict[str, Any] = {"type": "checkboxes", "selected_options": first["options"][:1]}
    assert (await bot.send(_element_body(bot, forged, chosen))).status == 200
    picker = {**_elements(bot, channel, actions.CHECKLIST_OWNER)[0], "_channel": "C0GENERAL"}
    await bot.send(_element_body(bot, picker, {"type": "users_select", "selected_user": BOB}))
    await _until(
        lambda: (
            sum("act only in its room" in str(c.params.get("text")) for c in bot.api.calls) >= 2
        ),
        "two refusals",
    )
    incident = await bot.engine.get("INC-0001")
    assert not any(v.done or v.owner for v in incident.checklist.values())
