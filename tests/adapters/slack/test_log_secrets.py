"""Secrets in a crashing pod's log reach no Slack message, upload, log line, record or document."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator

import pytest

from bot.adapters.slack import actions
from bot.drills.kubernetes import Sandbox
from tests.adapters.slack.conftest import SlackBot
from tests.adapters.slack.test_flow import _shared

# The gateway's crash log gains lines holding these; each must be masked whole everywhere.
LOG_SECRETS = {
    "STRIPE_KEY=sk_live_4eC39HqLyjWDarjtT1zdp7dc": "4eC39HqLyjWDarjtT1zdp7dc",
    "cloning with ghp_R2d2C3poL0ngT0k3nV4lu3Abcdefghij1234": "R2d2C3poL0ngT0k3nV4lu3",
    "aws client AKIAIOSFODNN7EXAMPLE region=eu-west-1": "AKIAIOSFODNN7EXAMPLE",
    "Authorization: Token tok-GaTeWaYsEcReTtAiL": "GaTeWaYsEcReTtAiL",
    'db config {"password": "a,SECRETJSONTAIL"}': "SECRETJSONTAIL",
    "cache redis://:p@ssSECRETREDIS@redis:6379/0": "ssSECRETREDIS",
    "ENCRYPTION_KEY=0123456789abcdef0123456789abcdef": "0123456789abcdef0123456789abcdef",
    "hook https://hooks.slack.com/services/T0ABCDEFG/B0ABCDEFG/SlAcKhOoKsEcReT0123456": (
        "SlAcKhOoKsEcReT0123456"
    ),
    "session eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U": "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start("gateway-crashloop", ready_delay=0.0) as sb:
        profile = sb.cluster.scenario.images["example/api-gateway:v0.2.0"]
        with sb.cluster.locked():
            profile.crash_log[-1:-1] = list(LOG_SECRETS)
        yield sb


async def _until(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_log_secrets_stay_masked_end_to_end(
    slack_bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = slack_bot
    await bot.command("api-gateway-down ecap-api gateway pods crash")
    created = await bot.api.wait_for("conversations.create")
    channel = str(created.response["channel"]["id"])
    await bot.api.wait_for("chat.postMessage", lambda c: "Run diagnostics" in json.dumps(c.params))

    assert await bot.click(bot.button(channel, actions.RUN_STAGE)) == 200
    # The log tail is shown (in the channel or as a file) with the harmless lines intact.
    await _until(
        lambda: "SESSION_SECRET" in bot.texts(channel) + _uploaded(bot), "the crash log shown"
    )
    incident = await bot.engine.get("INC-0001")
    logs = incident.step_runs["previous-logs"].output
    assert "Traceback (most recent call last):" in logs and "==> pod/api-gateway-" in logs
    assert logs.count("[redacted]") >= len(LOG_SECRETS)
    assert "secret = os.environ['SESSION_SECRET']" in logs
    # The cause's text is prose about secrets, not one: it stays whole.
    assert "Missing/invalid secrets: the crash log reports" in bot.texts(channel)

    await bot.click(bot.button(channel, actions.RESOLVE))
    await bot.api.wait_for("views.open", lambda c: actions.RESOLVE_VIEW in json.dumps(c.params))
    values = {
        "c": {actions.RESOLVE_CAUSE: {"type": "plain_text_input", "value": "missing secret"}},
        "r": {actions.RESOLVE_RESOLUTION: {"type": "plain_text_input", "value": "rolled back"}},
    }
    assert await bot.submit(actions.RESOLVE_VIEW, "INC-0001", values) == 200
    await _until(
        lambda: _shared(bot, "post-incident-INC-0001.md"),
        "the post-incident document",
    )

    stored = "".join(r.body for r in await bot.engine.store.list(None))
    posted = json.dumps([c.params for c in bot.api.calls])
    document = await bot.engine.post_incident_document("INC-0001")
    logged = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    for where, text in {
        "store": stored,
        "slack": posted,
        "uploads": _uploaded(bot),
        "document": document,
        "logs": logged,
    }.items():
        leaked = [s for s in LOG_SECRETS.values() if s in text]
        assert leaked == [], f"{where} holds {leaked}"


def _uploaded(bot: SlackBot) -> str:
    return "".join((u.content or b"").decode() for u in bot.api.uploads)
