"""What responders type is redacted before it is stored, posted or written into the document."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from bot.adapters.slack import actions
from tests.adapters.slack.conftest import SlackBot
from tests.adapters.slack.test_flow import _shared

TYPED_PASSWORD = "Hunter2TypedInAnUpdate"
TYPED_TOKEN = "ghp_TyPeDiNtOaRoOtCaUsE0123456789abcdefg"


async def _until(condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_typed_secrets_reach_no_record_post_or_document(slack_bot: SlackBot) -> None:
    bot = slack_bot
    await bot.command("api-down ecap-api the API answers 503")
    created = await bot.api.wait_for("conversations.create")
    channel = str(created.response["channel"]["id"])
    await bot.api.wait_for("chat.postMessage", lambda c: "Run diagnostics" in json.dumps(c.params))

    await bot.click(bot.button(channel, actions.STATUS_MODAL))
    await bot.api.wait_for("views.open")
    update = f"Investigating.\nThe new database password={TYPED_PASSWORD} is being rolled out"
    values = {
        "t": {
            actions.STATUS_TEMPLATE: {
                "type": "static_select",
                "selected_option": {"value": "initial"},
            }
        },
        "x": {actions.STATUS_TEXT: {"type": "plain_text_input", "value": update}},
    }
    assert await bot.submit(actions.STATUS_VIEW, "INC-0001", values) == 200
    await _until(
        lambda: (
            "is being rolled out" not in bot.texts(channel)
            and "Investigating." in bot.texts(channel)
        ),
        "the update",
    )

    await bot.click(bot.button(channel, actions.RESOLVE))
    await bot.api.wait_for("views.open", lambda c: actions.RESOLVE_VIEW in json.dumps(c.params))
    values = {
        "c": {
            actions.RESOLVE_CAUSE: {
                "type": "plain_text_input",
                "value": f"a deploy script printed {TYPED_TOKEN} and then crashed",
            }
        },
        "r": {
            actions.RESOLVE_RESOLUTION: {
                "type": "plain_text_input",
                "value": f"rotated; old password: {TYPED_PASSWORD}",
            }
        },
    }
    assert await bot.submit(actions.RESOLVE_VIEW, "INC-0001", values) == 200
    await _until(lambda: _shared(bot, "post-incident-INC-0001.md"), "the post-incident document")

    incident = await bot.engine.get("INC-0001")
    assert incident.status == "resolved"
    assert "[redacted]" in incident.root_cause and "[redacted]" in incident.status_updates[0].text
    stored = "".join(r.body for r in await bot.engine.store.list(None))
    posted = json.dumps([c.params for c in bot.api.calls])
    uploaded = "".join((u.content or b"").decode() for u in bot.api.uploads)
    document = await bot.engine.post_incident_document("INC-0001")
    assert "a deploy script printed [redacted]" in document
    for secret in (TYPED_PASSWORD, TYPED_TOKEN):
        assert secret not in stored
        assert secret not in posted
        assert secret not in uploaded
        assert secret not in document
