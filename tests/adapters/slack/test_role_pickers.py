"""Roles, severity and stats in Slack, over the signed HTTP endpoint and over Socket Mode."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.adapters.slack import actions
from bot.adapters.slack.factory import build_slack
from bot.adapters.slack.listeners.nudges import SlackNotifier
from bot.adapters.slack.transport.socket_mode import socket_mode
from bot.app import running_engine
from bot.config import Channels, Config, ServiceBinding, SeverityPolicy
from bot.drills.kubernetes import Sandbox
from bot.engine.engine import Engine
from bot.engine.incident import Actor, Incident
from bot.engine.scheduler import Scheduler
from bot.engine.timers import COMMANDER_PROMPT
from bot.errors import ConflictError
from bot.store.base import Record
from tests.adapters.slack.conftest import ALICE, BOB, CAROL, SlackBot, bot_settings
from tests.adapters.slack.test_flow import _told, _until
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_signing import block_action_payload
from tests.support.slack_socket import SlackSocketStandIn


def role_picker(api: SlackApiStandIn, channel: str, role: str) -> tuple[str, str]:
    """The block id and message ts of the headline's user picker for `role`."""
    for message in api.messages(channel):
        for block in message.get("blocks") or []:
            accessory = block.get("accessory") or {}
            if (
                accessory.get("action_id") == actions.ROLE
                and json.loads(block["block_id"]).get("r") == role
            ):
                assert accessory["type"] == "users_select"
                return str(block["block_id"]), str(message.get("ts", ""))
    raise AssertionError(f"no {role} picker in {channel}")


def pick_user(
    api: SlackApiStandIn, channel: str, role: str, picked: str, user: str
) -> dict[str, Any]:
    """The block_actions payload Slack sends when `user` picks `picked` in a role's picker."""
    block_id, ts = role_picker(api, channel, role)
    payload = block_action_payload(
        action_id=actions.ROLE,
        value="",
        response_url=api.response_url(channel),
        user_id=user,
        channel_id=channel,
        message_ts=ts,
        block_id=block_id,
    )
    payload["actions"] = [
        {
            "type": "users_select",
            "action_id": actions.ROLE,
            "block_id": block_id,
            "selected_user": picked,
            "action_ts": f"{time.time():.6f}",
        }
    ]
    return payload


def severity_option(api: SlackApiStandIn, channel: str, label: str) -> dict[str, Any]:
    """The severity menu of the headline and its option labelled `label` (`SEV1 critical`)."""
    for message in api.messages(channel):
        for block in message.get("blocks") or []:
            for element in block.get("elements") or []:
                if element.get("action_id") == actions.SEVERITY:
                    for option in element["options"]:
                        if option["text"]["text"] == label:
                            return {
                                **element,
                                "_channel": channel,
                                "_ts": message["ts"],
                                "_o": option,
                            }
    raise AssertionError(f"no severity menu with {label} in {channel}")


async def open_room(bot: SlackBot, text: str) -> str:
    ack = await bot.command(text)
    assert "Opening" in ack["text"], ack
    created = await bot.api.wait_for("conversations.create")
    channel = str(created.response["channel"]["id"])
    await bot.api.wait_for("chat.postMessage", lambda c: "Run diagnostics" in json.dumps(c.params))
    return channel


async def backdate(engine: Engine, incident_id: str, by: timedelta) -> None:
    """As if opened `by` earlier; retried while the room's links are still being stored."""
    for _ in range(50):
        record = await engine.store.load(incident_id)
        assert record is not None
        stored = Incident.model_validate_json(record.body)
        stored.opened_at -= by
        try:
            await engine.store.replace(
                Record(record.id, record.status, record.version, stored.model_dump_json())
            )
            return
        except ConflictError:
            await asyncio.sleep(0.05)
    raise AssertionError("could not backdate")


async def only_incident(engine: Engine) -> Incident:
    [incident] = await engine.list_incidents("open")
    return incident


async def test_open_at_a_severity_hand_roles_over_and_change_it_from_the_headline(
    slack_bot: SlackBot,
) -> None:
    bot = slack_bot
    bot.api.set_usergroup("S0DBAS", [CAROL])
    bot.engine.config.severities[1] = SeverityPolicy(invite=["S0DBAS"], status_update_minutes=5)
    channel = await open_room(bot, "api-down ecap-api --sev 2 the API answers 503")
    incident = await only_incident(bot.engine)
    assert incident.severity == "high"
    # The incidents channel hears of it in its own call, after the room's.
    await _until(lambda: "SEV2 high" in bot.texts("C0GENERAL"), "the announcement")
    assert incident.summary == "the API answers 503"

    assert (
        await bot.send(_form(pick_user(bot.api, channel, "commander", BOB, ALICE)))
    ).status == 200
    await _until(lambda: f"<@{BOB}> is now commander" in bot.texts(channel), "the handover")
    payload = pick_user(bot.api, channel, "communications", CAROL, BOB)
    await bot.send(_form(payload))
    await _until(lambda: f"<@{CAROL}> is now communications lead" in bot.texts(channel), "comms")
    payload = pick_user(bot.api, channel, "commander", CAROL, CAROL)
    await bot.send(_form(payload))
    handed = f"<@{CAROL}> is now commander (handed over from <@{BOB}>)"
    await _until(lambda: handed in bot.texts(channel), "the second handover")
    incident = await bot.engine.get(incident.id)
    assert (incident.commander, incident.roles) == (CAROL, {"communications": CAROL})
    assert [e.text for e in incident.timeline if e.event == "role"][-1] == (
        f"{CAROL} is commander (handed over from {BOB})"
    )

    menu = severity_option(bot.api, channel, "SEV1 critical")
    assert await bot.click(menu, user=BOB, option=menu["_o"]) == 200
    await _until(lambda: "changed the severity" in bot.texts(channel), "the severity change")
    changed = "severity from SEV2 high to *SEV1 critical*"
    await _until(lambda: changed in bot.texts("C0GENERAL"), "the announcement of the change")
    await bot.api.wait_for("conversations.invite", lambda c: c.params.get("users") == CAROL)
    incident = await bot.engine.get(incident.id)
    assert incident.severity == "critical"
    assert incident.timeline[-1].text == "severity SEV2 high -> SEV1 critical"
    assert incident.status_update_seconds == 300

    assert bot.ctx is not None
    await bot.ctx.rooms.flush_headlines()
    headline = bot.api.messages(channel)[0]
    assert headline["ts"] == incident.links["slack.headline_ts"]
    shown = json.dumps(headline)
    assert "SEV1 critical" in shown and f"*Commander:* <@{CAROL}>" in shown
    assert (
        f"*Communications lead:* <@{CAROL}>" in shown and "*Operations lead:* _unassigned_" in shown
    )


async def test_bad_role_and_severity_input_is_one_line_and_changes_nothing(
    slack_bot: SlackBot,
) -> None:
    bot = slack_bot
    refused = await bot.command("api-down ecap-api --sev 7")
    assert refused["text"].startswith(":warning: severity must be one of 1 (critical)")
    assert await bot.engine.list_incidents("open") == []

    channel = await open_room(bot, "api-down ecap-api")
    before = await only_incident(bot.engine)
    payload = pick_user(bot.api, channel, "commander", BOB, ALICE)
    payload["actions"][0]["block_id"] = json.dumps({"i": before.id, "r": "janitor"})
    await bot.send(_form(payload))
    await _until(lambda: _told(bot, "no role 'janitor'"), "the refusal")
    menu = severity_option(bot.api, channel, "SEV1 critical")
    await bot.click(menu, option=menu["_o"])
    await _until(lambda: _told(bot, "is already SEV1 critical"), "the same-severity refusal")
    after = await bot.engine.get(before.id)
    assert (after.commander, after.roles, after.severity) == (None, {}, "critical")
    assert [e.event for e in after.timeline if e.event in ("role", "severity")] == []


async def test_the_room_is_asked_for_a_commander_after_five_minutes(slack_bot: SlackBot) -> None:
    bot = slack_bot
    assert bot.ctx is not None
    channel = await open_room(bot, "api-down ecap-api")
    incident = await only_incident(bot.engine)
    async with Scheduler(bot.engine, SlackNotifier(bot.ctx), owner="test") as scheduler:
        await backdate(bot.engine, incident.id, COMMANDER_PROMPT - timedelta(seconds=0.5))
        await scheduler.sync()
        await _until(lambda: "with no incident commander" in bot.texts(channel), "the prompt")
    take = bot.button(channel, actions.COMMANDER)
    assert take["text"]["text"] == "I'll command"
    await bot.click(take, user=BOB)
    await _until(lambda: f"<@{BOB}> is now incident commander" in bot.texts(channel), "the claim")
    assert bot.texts(channel).count("with no incident commander") == 1


async def test_stats_are_ephemeral_with_medians_p90_and_counts(slack_bot: SlackBot) -> None:
    bot = slack_bot
    await open_room(bot, "api-down ecap-api")
    incident = await only_incident(bot.engine)
    await bot.engine.resolve(incident.id, Actor(id=ALICE, name="alice"), "cause", "fix")

    answer = await bot.command("stats 7d")
    assert answer["response_type"] == "ephemeral"
    text = answer["text"]
    assert "Incidents opened in the last 7d" in text
    assert "api-down · ecap-api: 1 opened" in text and "resolve " in text and "(n=1)" in text
    refused = await bot.command("stats 1y")
    assert refused["text"] == ":warning: stats window must be 7d, 30d or 90d, not '1y'"

    metrics_url = bot.url.replace("/slack/events", "/metrics")
    async with bot.session.get(metrics_url) as response:
        exported = await response.text()
    labels = 'playbook="api-down",service="ecap-api"'
    for name in ("acknowledge", "mitigate", "resolve"):
        family = f"runbook_bot_incident_time_to_{name}_seconds"
        assert f"# TYPE {family} histogram" in exported
        assert f'{family}_bucket{{{labels},le="+Inf"}}' in exported


def _form(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


@pytest.fixture
async def socket_bot(
    sandbox: Sandbox, tmp_path: Path
) -> AsyncIterator[tuple[SlackApiStandIn, SlackSocketStandIn, Engine]]:
    async with SlackApiStandIn() as api, SlackSocketStandIn(api) as socket:
        api.add_user(BOB, "bob")
        settings = dataclasses.replace(
            bot_settings(api, sandbox, tmp_path), slack_app_token=api.app_token
        )
        config = Config(
            services={"ecap-api": ServiceBinding.model_validate(sandbox.binding())},
            approvers=[ALICE, BOB],
            channels=Channels(incidents="C0GENERAL"),
        )
        async with running_engine(settings, config) as engine:
            slack = build_slack(engine, config, settings, socket_mode=True)
            async with socket_mode(slack.app, engine, api.app_token, "127.0.0.1", 0):
                await socket.wait_connected()
                yield api, socket, engine


async def test_socket_mode_roles_severity_and_stats(
    socket_bot: tuple[SlackApiStandIn, SlackSocketStandIn, Engine],
) -> None:
    api, socket, engine = socket_bot
    opened = await socket.wait_for_ack(
        await socket.send_slash_command(text="api-down ecap-api --sev 3")
    )
    assert "Opening" in json.dumps(opened)
    created = await api.wait_for("conversations.create")
    channel = str(created.response["channel"]["id"])
    await api.wait_for("chat.postMessage", lambda c: "Run diagnostics" in json.dumps(c.params))
    incident = await only_incident(engine)
    assert incident.severity == "medium"

    await socket.wait_for_ack(
        await socket.send_interactive(pick_user(api, channel, "operations", BOB, ALICE))
    )
    await api.wait_for(
        "chat.postMessage", lambda c: "is now operations lead" in json.dumps(c.params)
    )
    menu = severity_option(api, channel, "SEV2 high")
    click = block_action_payload(
        action_id=actions.SEVERITY,
        value="",
        response_url=api.response_url(channel),
        channel_id=channel,
        message_ts=menu["_ts"],
        selected=menu["_o"],
    )
    await socket.wait_for_ack(await socket.send_interactive(click))
    await api.wait_for(
        "chat.postMessage",
        lambda c: c.params.get("channel") == "C0GENERAL" and "SEV2 high" in json.dumps(c.params),
    )
    incident = await engine.get(incident.id)
    assert (incident.roles, incident.severity) == ({"operations": BOB}, "high")

    stats = await socket.wait_for_ack(await socket.send_slash_command(text="stats 30d"))
    assert "api-down · ecap-api: 1 opened" in json.dumps(stats, ensure_ascii=False)
    refused = await socket.wait_for_ack(await socket.send_slash_command(text="stats 2w"))
    assert "stats window must be 7d, 30d or 90d" in json.dumps(refused)
