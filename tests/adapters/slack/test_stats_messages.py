"""`/incident stats` for many playbooks and services: whole lines over as many sections and
messages as Slack takes, over the HTTP endpoint and Socket Mode."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from bot.adapters.slack.rendering.escape import ELLIPSIS, escape
from bot.adapters.slack.rendering.limits import MESSAGE_TEXT, SECTION_TEXT, validate
from bot.adapters.slack.rendering.message import Message
from bot.adapters.slack.rendering.report import report_messages
from bot.adapters.text import render_stats
from bot.engine.engine import Engine
from bot.engine.incident import Incident
from bot.store.base import Record
from tests.adapters.slack.conftest import SlackBot, SocketBot
from tests.adapters.slack.test_flow import _until
from tests.support.slack_api import SlackApiStandIn

# Enough playbook and service pairs that their stats run past one message of Slack's.
SERVICES = 300


def _shown(messages: list[Message]) -> list[str]:
    """The lines the messages show, fences taken off, after checking each against the limits."""
    lines = []
    for message in messages:
        validate(message)
        texts = [block.to_dict()["text"]["text"] for block in message.blocks]
        assert sum(map(len, texts)) <= MESSAGE_TEXT
        for text in texts:
            assert len(text) <= SECTION_TEXT and ELLIPSIS not in text
            if text.startswith("```"):
                assert text.endswith("```")
                lines += text[3:-3].split("\n")
    return lines


def test_a_long_report_is_split_into_whole_lines() -> None:
    report = "\n".join(f"  playbook-{n} · service <{n}> & co: {n} opened" for n in range(3000))
    messages = report_messages(report, 6)
    assert 1 < len(messages) <= 6
    assert _shown(messages) == [escape(line) for line in report.splitlines()]


def test_a_line_longer_than_a_section_is_shown_in_pieces() -> None:
    line = "fixes: " + ", ".join(f"outcome-{n} {n}" for n in range(800))
    messages = report_messages(f"head\n{line}\ntail", 6)
    shown = _shown(messages)
    assert shown[0] == "head" and shown[-1] == "tail"
    assert "".join(shown[1:-1]) == line


def test_past_the_last_message_it_says_how_many_lines_are_left() -> None:
    report = "\n".join(f"line {n:06d} " + "x" * 80 for n in range(6000))
    messages = report_messages(report, 2)
    assert len(messages) == 2
    shown = _shown(messages)
    assert shown == [escape(line) for line in report.splitlines()[: len(shown)]]
    note = messages[-1].blocks[-1].to_dict()["text"]["text"]
    assert (
        note
        == f"_{6000 - len(shown)} more lines did not fit in Slack; `stats` in a terminal has all_"
    )


async def _many_services(engine: Engine) -> None:
    """Resolved incidents of one playbook on many services, written as the engine stores them."""
    now = engine.clock()
    for n in range(SERVICES):
        opened = now - timedelta(hours=2, minutes=n)
        incident = Incident(
            id=f"INC-{9000 + n}",
            playbook_id="api-down",
            service=f"checkout-service-{n:03d}",
            severity="high",
            status="resolved",
            opened_at=opened,
            opened_by="alice",
            acknowledged_at=opened + timedelta(minutes=3),
            mitigated_at=opened + timedelta(minutes=20),
            resolved_at=opened + timedelta(minutes=45),
        )
        await engine.store.insert(
            Record(incident.id, incident.status, 1, incident.model_dump_json())
        )


def _all_shown(answers: list[dict[str, Any]]) -> str:
    """The text of every section of the ack and its follow-ups, in order."""
    texts = []
    for answer in answers:
        assert answer["response_type"] == "ephemeral"
        texts += [block["text"]["text"] for block in answer["blocks"]]
        assert all(len(text) <= SECTION_TEXT and ELLIPSIS not in text for text in texts)
    return "\n".join(texts)


async def _follow_ups(api: SlackApiStandIn, engine: Engine, window: str) -> list[dict[str, Any]]:
    """The follow-ups after the ack, once as many as the report needs have come."""
    expected = len(report_messages(render_stats(await engine.stats(window)), 6)) - 1
    assert expected >= 1
    await _until(lambda: len(api.calls_to("response_url")) >= expected, "the follow-ups")
    calls = api.calls_to("response_url")
    assert len(calls) == expected <= 5
    assert len({c.params["response_url"] for c in calls}) == 1
    assert all(c.params["replace_original"] is False for c in calls)
    return [c.params for c in calls]


def _every_service_once(shown: str) -> None:
    found = re.findall(r"api-down · (checkout-service-\d{3}): 1 opened", shown)
    assert found == [f"checkout-service-{n:03d}" for n in range(SERVICES)]
    assert f"all: {SERVICES} opened" in shown


async def test_stats_for_many_services_over_http(slack_bot: SlackBot) -> None:
    bot = slack_bot
    await _many_services(bot.engine)
    answer = await bot.command("stats 7d")
    assert answer["text"].startswith("```Incidents opened in the last 7d")
    assert len(answer["blocks"]) > 1
    follow_ups = await _follow_ups(bot.api, bot.engine, "7d")
    _every_service_once(_all_shown([answer, *follow_ups]))


async def test_stats_for_many_services_over_socket_mode(socket_bot: SocketBot) -> None:
    api, socket = socket_bot.api, socket_bot.socket
    await _many_services(socket_bot.engine)
    acked = await socket.wait_for_ack(await socket.send_slash_command(text="stats 30d"))
    answer = acked["payload"]
    assert len(answer["blocks"]) > 1
    follow_ups = await _follow_ups(api, socket_bot.engine, "30d")
    _every_service_once(_all_shown([answer, *follow_ups]))
