"""The API-down incident end to end in Slack: signed requests in, Web API calls out."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable

from bot.adapters.slack import actions
from tests.adapters.slack.conftest import ALICE, BOB, CAROL, SlackBot
from tests.support.slack_workspace import Upload


async def _open(bot: SlackBot) -> str:
    """Open the incident; returns its channel id."""
    ack = await bot.command("api-down ecap-api the API answers 503")
    assert "Opening" in ack["text"]
    created = await bot.api.wait_for("conversations.create")
    channel = str(created.response["channel"]["id"])
    await bot.api.wait_for("chat.postMessage", lambda c: "Run diagnostics" in json.dumps(c.params))
    return channel


async def _until(
    condition: Callable[[], object | Awaitable[object]], what: str, timeout: float = 20.0
) -> None:
    """Polls `condition` (plain or async) until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await _holds(condition):
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def _holds(condition: Callable[[], object | Awaitable[object]]) -> bool:
    result = condition()
    return bool(await result if inspect.isawaitable(result) else result)


def _shared(bot: SlackBot, filename: str) -> Upload | None:
    """The upload named `filename` once its bytes are sent and it is shared, else None.

    files.getUploadURLExternal announces a file before its bytes are POSTed and
    files.completeUploadExternal shares it; waiting on the announcement alone reads no content."""
    return next(
        (u for u in bot.api.uploads if u.filename == filename and u.shared),
        None,
    )


def _told(bot: SlackBot, words: str) -> bool:
    """Whether someone was told `words` privately (response_url or ephemeral)."""
    return any(
        words in str(c.params.get("text", ""))
        for c in [*bot.api.calls_to("response_url"), *bot.api.calls_to("chat.postEphemeral")]
    )


async def test_open_creates_channel_invites_announces_and_pins(slack_bot: SlackBot) -> None:
    channel = await _open(slack_bot)
    name = slack_bot.api.workspace.channel(channel).name
    assert name == "inc-0001-api-down-ecap-api"
    assert ALICE in slack_bot.api.workspace.channel(channel).members
    assert slack_bot.api.pins(channel), "the headline is pinned"
    general = slack_bot.texts("C0GENERAL")
    assert "INC-0001" in general and f"<#{channel}>" in general
    incident = await slack_bot.engine.get("INC-0001")
    assert incident.links["slack.channel"] == channel


async def test_diagnose_fix_approve_status_resolve(slack_bot: SlackBot) -> None:
    bot = slack_bot
    channel = await _open(bot)

    assert await bot.click(bot.button(channel, actions.RUN_STAGE)) == 200
    await _until(lambda: "Resource exhaustion" in bot.texts(channel), "the suggested root cause")
    assert "OOMKilled" in bot.texts(channel)

    # The rollback lives in a later stage; the root cause points at it via see_also.
    assert await bot.click(bot.button(channel, actions.REQUEST_FIX, "rollback")) == 200
    await _until(lambda: bot.buttons(channel, actions.APPROVE), "the approval request")
    assert "ecap/api:2.4.0" in bot.texts(channel)
    assert not bot.sandbox.healthy(), "nothing changes before approval"

    approve = bot.button(channel, actions.APPROVE)
    await bot.click(approve, user=CAROL)  # not an approver
    await _until(lambda: _told(bot, "not an approver"), "the refusal")
    assert (await bot.engine.get("INC-0001")).approvals["A1"].state == "pending"

    await asyncio.gather(bot.click(approve, user=BOB), bot.click(approve, user=ALICE))
    await _until(bot.sandbox.healthy, "the rollback")
    await _until(lambda: "rolled out" in bot.texts(channel), "the verification in the channel")
    incident = await bot.engine.get("INC-0001")
    assert [e.event for e in incident.timeline].count("fix-applied") == 1
    assert incident.approvals["A1"].state == "applied"

    # Status update through the modal.
    await bot.click(bot.button(channel, actions.STATUS_MODAL))
    opened = await bot.api.wait_for("views.open")
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    text = next(
        b["element"]["initial_value"]
        for b in view["blocks"]
        if b.get("element", {}).get("action_id") == actions.STATUS_TEXT
    )
    assert "We are investigating" in text
    values = {
        "t": {
            actions.STATUS_TEMPLATE: {
                "type": "static_select",
                "selected_option": {"value": "initial"},
            }
        },
        "x": {
            actions.STATUS_TEXT: {"type": "plain_text_input", "value": text + "\n<!channel> ping"}
        },
    }
    assert await bot.submit(actions.STATUS_VIEW, "INC-0001", values) == 200
    await _until(
        lambda: "&lt;!channel&gt; ping" in bot.texts(channel), "the status update, escaped"
    )
    assert "<!channel>" not in bot.texts(channel)

    # Resolve through the modal.
    await bot.click(bot.button(channel, actions.RESOLVE))
    await bot.api.wait_for("views.open", lambda c: actions.RESOLVE_VIEW in json.dumps(c.params))
    values = {
        "c": {
            actions.RESOLVE_CAUSE: {"type": "plain_text_input", "value": "2.5.0 needs more memory"}
        },
        "r": {actions.RESOLVE_RESOLUTION: {"type": "plain_text_input", "value": "rolled back"}},
    }
    assert await bot.submit(actions.RESOLVE_VIEW, "INC-0001", values) == 200
    await _until(lambda: _shared(bot, "post-incident-INC-0001.md"), "the post-incident document")
    assert (await bot.engine.get("INC-0001")).status == "resolved"
    summary = bot.texts(channel)
    assert "Time to mitigate" in summary and "requested by" in summary and "approved by" in summary
    upload = next(u for u in bot.api.uploads if u.filename == "post-incident-INC-0001.md")
    assert upload.content is not None
    document = upload.content.decode()
    assert "rolled back" in document and "fix-applied" in document

    # A button of a resolved incident says so instead of acting.
    await bot.click(bot.button(channel, actions.RUN_STAGE))
    await _until(lambda: _told(bot, "is resolved; this button no longer acts"), "the notice")
