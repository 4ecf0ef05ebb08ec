"""Game days in Slack: `/incident drill`, over the signed HTTP endpoint and over Socket Mode."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.adapters.slack import actions
from bot.adapters.slack.factory import SlackTokens, build_slack, room_reporter
from bot.adapters.slack.listeners.nudges import escalate_now
from bot.adapters.slack.transport.socket_mode import socket_mode
from bot.adapters.web import listening, web_app
from bot.app import running_engine
from bot.config import Config
from bot.drills.kubernetes import Sandbox
from bot.drills.pool import SandboxPool
from bot.engine.incident import Actor, Incident
from bot.errors import InvalidRequest
from bot.integrations.listener import running_integrations
from bot.metrics import INCIDENTS_OPENED, INCIDENTS_RESOLVED
from bot.store.base import Record
from tests.adapters.slack.conftest import ALICE, BOB, SlackBot, bot_settings
from tests.adapters.slack.test_flow import _shared, _told, _until
from tests.integrations.test_integrations import ROUTING_KEY, TOKEN, StandIn
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_signing import block_action_payload, view_submission_payload
from tests.support.slack_socket import SlackSocketStandIn

EM = "U0EMGR"
STATUS = "C0STATUS"


def game_day_config(sandbox: Sandbox, pager: StandIn) -> Config:
    """A real service on the shared sandbox, a status page, a pager, a paging level 2."""
    return Config.model_validate(
        {
            "services": {"ecap-api": sandbox.binding()},
            "approvers": [ALICE, BOB],
            "channels": {"incidents": "C0GENERAL", "status": STATUS},
            "escalation": {2: {"name": "Engineering Manager", "notify": [EM], "page": True}},
            "statuspage": {"base_url": pager.url, "page_id": "pg1", "token": TOKEN},
            "paging": {"url": pager.url + "/v2/enqueue", "routing_key": ROUTING_KEY},
        }
    )


@pytest.fixture
async def pager() -> AsyncIterator[StandIn]:
    server = StandIn()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def drill_bot(
    sandbox: Sandbox, tmp_path: Path, pager: StandIn
) -> AsyncIterator[tuple[SlackBot, SandboxPool]]:
    async with SlackApiStandIn() as api:
        api.add_user(BOB, "bob")
        settings = bot_settings(api, sandbox, tmp_path)
        config = game_day_config(sandbox, pager)
        async with running_engine(settings, config) as engine:
            pool = SandboxPool(engine, settings, ready_delay=0.0, sweep_seconds=0.2)
            slack = build_slack(engine, config, settings, sandboxes=pool)
            ctx = slack.notifier.ctx
            app = web_app(slack.app, engine, slack_events=True)
            try:
                async with (
                    running_integrations(engine, room_reporter(ctx)),
                    listening(app, "127.0.0.1", 0) as port,
                    aiohttp.ClientSession() as session,
                ):
                    url = f"http://127.0.0.1:{port}/slack/events"
                    yield SlackBot(api, engine, sandbox, url, session, ctx), pool
            finally:
                await pool.close()


async def open_drill(bot: SlackBot, text: str = "drill api-down") -> tuple[str, str]:
    """Start a drill; returns its incident id and room."""
    before = len(bot.api.calls_to("conversations.create"))
    ack = await bot.command(text)
    assert "Starting a DRILL of api-down" in ack["text"], ack
    await _until(lambda: len(bot.api.calls_to("conversations.create")) > before, "the drill's room")
    created = bot.api.calls_to("conversations.create")[before]
    channel = str(created.response["channel"]["id"])
    await _until(lambda: "Run diagnostics" in bot.texts(channel), "the first stage")
    [incident] = [i for i in await bot.engine.list_incidents("open") if room(i) == channel]
    return incident.id, channel


def room(incident: Incident) -> str:
    return incident.links.get("slack.channel", "")


def status_values(text: str) -> dict[str, Any]:
    return {
        "t": {
            actions.STATUS_TEMPLATE: {
                "type": "static_select",
                "selected_option": {"value": "initial"},
            }
        },
        "x": {actions.STATUS_TEXT: {"type": "plain_text_input", "value": text}},
    }


RESOLVE_VALUES = {
    "c": {actions.RESOLVE_CAUSE: {"type": "plain_text_input", "value": "2.5.0 needs memory"}},
    "r": {actions.RESOLVE_RESOLUTION: {"type": "plain_text_input", "value": "rolled back"}},
}


async def test_a_drill_over_http_runs_in_its_own_room_and_sandbox_to_its_score(
    drill_bot: tuple[SlackBot, SandboxPool], pager: StandIn
) -> None:
    bot, pool = drill_bot
    opened = INCIDENTS_OPENED.value(playbook="api-down")
    resolved = INCIDENTS_RESOLVED.value(playbook="api-down")
    incident_id, channel = await open_drill(bot)
    assert bot.api.workspace.channel(channel).name.startswith("drill-0001-api-down-ecap-api")
    incident = await bot.engine.get(incident_id)
    assert incident.drill is not None and incident.drill.scenario == "oom-bad-deploy"
    assert incident.drill.root_cause == "resource-exhaustion"
    assert pool.running() == [incident_id]
    # Its own sandbox: not the real binding of ecap-api.
    own = bot.engine.drill_targets[incident_id].binding
    assert own.health_url != bot.engine.config.services["ecap-api"].health_url
    assert "DRILL: API Service Down" in bot.texts(channel)

    assert await bot.click(bot.button(channel, actions.RUN_STAGE)) == 200
    await _until(lambda: "Resource exhaustion" in bot.texts(channel), "the suggested cause")
    found = await bot.engine.get(incident_id)
    assert found.drill is not None and found.drill.cause_found_at is not None

    # The rollback (the cause's see-also) fits an out-of-memory finding; a restart does not.
    assert await bot.click(bot.button(channel, actions.REQUEST_FIX, "rollback")) == 200
    await _until(lambda: len(bot.buttons(channel, actions.APPROVE)) == 1, "the rollback request")
    assert await bot.click(bot.button(channel, actions.ADVANCE)) == 200
    await _until(lambda: "quick remediation attempts" in bot.texts(channel), "the second stage")
    assert await bot.click(bot.button(channel, actions.REQUEST_FIX, "restart")) == 200
    await _until(lambda: len(bot.buttons(channel, actions.APPROVE)) == 2, "the restart request")
    [approve] = [
        b for b in bot.buttons(channel, actions.APPROVE) if json.loads(b["value"])["a"] == "A1"
    ]
    assert await bot.click(approve, user=BOB) == 200
    await _until(lambda: "rolled out" in bot.texts(channel), "the rollback's verification")
    assert not bot.sandbox.healthy(), "the real service's cluster was not touched"

    await bot.click(bot.button(channel, actions.STATUS_MODAL))
    await bot.api.wait_for("views.open")
    assert await bot.submit(actions.STATUS_VIEW, incident_id, status_values("Looking")) == 200
    await _until(lambda: "a real incident would send it to" in bot.texts(channel), "the note")

    await bot.click(bot.button(channel, actions.RESOLVE))
    await bot.api.wait_for("views.open", lambda c: actions.RESOLVE_VIEW in json.dumps(c.params))
    assert await bot.submit(actions.RESOLVE_VIEW, incident_id, RESOLVE_VALUES) == 200
    await _until(lambda: "DRILL score" in bot.texts(channel), "the score")
    texts = bot.texts(channel)
    assert "time to the right root cause (resource-exhaustion): " in texts
    assert "time to the right root cause (resource-exhaustion): not reached" not in texts
    assert "fixes requested that did not fit the findings: 1 (restart)" in texts
    assert "status updates on time: 1/1" in texts
    assert "time to mitigate: not reached" not in texts
    name = f"post-incident-{incident_id}.md"
    await _until(lambda: _shared(bot, name), "the post-incident document")
    upload = next(u for u in bot.api.uploads if u.filename == name)
    assert upload.content is not None
    document = upload.content.decode()
    assert document.startswith("> **DRILL**") and "## DRILL score" in document
    assert "fixes requested that did not fit the findings: 1 (restart)" in document

    # Every message in the room says DRILL; nothing left it.
    for message in bot.api.messages(channel):
        assert "DRILL" in json.dumps(message), message
    assert incident_id not in bot.texts("C0GENERAL")
    assert STATUS not in [c.params.get("channel") for c in bot.api.calls_to("chat.postMessage")]
    assert pager.seen == [], "no status page, no page"
    await _until(lambda: pool.running() == [], "the sandbox stopped at resolve")
    assert incident_id not in bot.engine.drill_targets
    assert (await bot.engine.stats()).total.opened == 0, "a drill is no incident in the stats"
    assert INCIDENTS_OPENED.value(playbook="api-down") == opened
    assert INCIDENTS_RESOLVED.value(playbook="api-down") == resolved


async def test_two_drills_and_a_real_incident_at_once_do_not_touch_each_other(
    drill_bot: tuple[SlackBot, SandboxPool], pager: StandIn
) -> None:
    bot, pool = drill_bot
    ack = await bot.command("api-down ecap-api the API answers 503")
    assert "Opening" in ack["text"]
    created = await bot.api.wait_for("conversations.create")
    real_room = str(created.response["channel"]["id"])
    await _until(lambda: "Run diagnostics" in bot.texts(real_room), "the real room")
    [real] = await bot.engine.list_incidents("open")
    first, first_room = await open_drill(bot)
    second, second_room = await open_drill(bot)
    assert sorted(pool.running()) == sorted([first, second])
    bindings = {bot.engine.drill_targets[i].binding.health_url for i in (first, second)}
    bindings.add(bot.engine.config.services["ecap-api"].health_url)
    assert len(bindings) == 3, "three sandboxes, one each"
    listed = json.dumps(await bot.command("list"))
    assert f"*{first}* DRILL: API Service Down" in listed
    assert f"*{second}* DRILL: API Service Down" in listed
    assert f"*{real.id}* API Service Down" in listed

    # The first drill's rollback heals its sandbox only.
    assert await bot.click(bot.button(first_room, actions.RUN_STAGE)) == 200
    await _until(lambda: bot.buttons(first_room, actions.REQUEST_FIX), "the first drill's fixes")
    assert await bot.click(bot.button(first_room, actions.REQUEST_FIX, "rollback")) == 200
    await _until(lambda: bot.buttons(first_room, actions.APPROVE), "the rollback request")
    assert await bot.click(bot.button(first_room, actions.APPROVE), user=BOB) == 200
    await _until(lambda: "rolled out" in bot.texts(first_room), "the first drill's rollback")
    for other in (second_room, real_room):
        await diagnosed_again(bot, other)
    assert not bot.sandbox.healthy()

    # Escalating all three: the real one pages and mentions; the drills name, nobody is paged.
    lead = Actor(id=ALICE, name="alice")
    assert bot.ctx is not None
    for incident_id in (first, second, real.id):
        await escalate_now(bot.ctx, await bot.engine.get(incident_id), 2, lead)
    await _until(lambda: pager.pages(), "the real page")
    assert [p.body["dedup_key"] for p in pager.pages()] == [f"{real.id}-level-2"]
    assert f"<@{EM}>" in bot.texts(real_room)
    for drill_room in (first_room, second_room):
        assert f"<@{EM}>" not in bot.texts(drill_room)
        assert "Engineering Manager (DRILL: not notified)" in bot.texts(drill_room)
    general = bot.texts("C0GENERAL")
    assert real.id in general and first not in general and second not in general


async def diagnosed_again(bot: SlackBot, channel: str) -> None:
    """Run the stage's diagnostics; the pods still crash there, out of memory."""
    before = len(bot.api.messages(channel))
    assert await bot.click(bot.button(channel, actions.RUN_STAGE)) == 200

    def crashing() -> bool:
        return "OOMKilled" in json.dumps(bot.api.messages(channel)[before:])

    await _until(crashing, "the diagnosis")


async def test_bad_drill_input_is_one_line_and_changes_nothing(
    drill_bot: tuple[SlackBot, SandboxPool],
) -> None:
    bot, pool = drill_bot
    refusals = {
        "drill": "usage: /incident drill PLAYBOOK [--scenario S]",
        "drill nope": "no playbook 'nope'",
        "drill api-down --scenario nope": "no drill scenario 'nope'",
        "drill api-down --scenario container-crashed": (
            "drill scenario 'container-crashed' drills playbook 'api-down-compose', not 'api-down'"
        ),
        "drill api-down --sev 1": "usage: /incident drill PLAYBOOK [--scenario S]",
    }
    for text, reason in refusals.items():
        ack = await bot.command(text)
        assert ack["text"].startswith(":warning: "), ack
        assert reason in ack["text"], ack
        assert "\n" not in ack["text"]
    assert not bot.api.calls_to("conversations.create")
    assert await bot.engine.list_incidents(None) == []
    assert pool.running() == []


async def test_drills_past_the_bound_are_refused_in_one_line_and_start_nothing(
    drill_bot: tuple[SlackBot, SandboxPool],
) -> None:
    bot, pool = drill_bot
    bot.engine.config.drills.max_running = 1
    incident_id, _ = await open_drill(bot)
    rooms = len(bot.api.calls_to("conversations.create"))
    ack = await bot.command("drill api-down")
    assert ack["text"].startswith(":warning: "), ack
    assert "1 drill(s) already running here (drills.max_running)" in ack["text"]
    assert "\n" not in ack["text"]
    assert pool.running() == [incident_id]
    assert [i.id for i in await bot.engine.list_incidents(None)] == [incident_id]
    assert len(bot.api.calls_to("conversations.create")) == rooms


async def test_a_drill_fix_approved_where_its_sandbox_is_not_changes_nothing(
    drill_bot: tuple[SlackBot, SandboxPool],
) -> None:
    bot, _ = drill_bot
    incident_id, _ = await open_drill(bot)
    approval = await bot.engine.request_fix(incident_id, "rollback", Actor(id=ALICE, name="al"))
    # As on a replica that did not start the drill: no sandbox to apply the fix to.
    target = bot.engine.drill_targets.pop(incident_id)
    try:
        with pytest.raises(InvalidRequest) as refused:
            await bot.engine.approve(incident_id, approval.id, Actor(id=BOB, name="bob"))
    finally:
        bot.engine.drill_targets[incident_id] = target
    assert f"DRILL {incident_id}'s sandbox is gone" in str(refused.value)
    assert "\n" not in str(refused.value)
    # Still waiting for an approval where it can run, not left "applying" for recovery.
    stored = await bot.engine.get(incident_id)
    assert stored.approvals[approval.id].state == "pending"
    assert not [e for e in stored.timeline if e.event == "fix-approved"]


async def test_another_replica_refuses_a_drill_it_has_no_sandbox_for_in_one_line(
    drill_bot: tuple[SlackBot, SandboxPool],
) -> None:
    bot, pool = drill_bot
    incident_id, channel = await open_drill(bot)
    # As a replica that did not start it sees it: the record names another process.
    record = await bot.engine.store.load(incident_id)
    assert record is not None
    stored = Incident.model_validate_json(record.body)
    assert stored.drill is not None
    stored.drill.owner = "replica-b:4242"
    await bot.engine.store.replace(
        Record(record.id, record.status, record.version, stored.model_dump_json())
    )
    target = bot.engine.drill_targets.pop(incident_id)
    try:
        assert await bot.click(bot.button(channel, actions.RUN_STAGE)) == 200
        await _until(
            lambda: _told(bot, f"DRILL {incident_id} runs against a sandbox in replica-b:4242"),
            "the refusal",
        )
    finally:
        bot.engine.drill_targets[incident_id] = target

    # Resolved by another replica: this one never hears the change, and finds it on its sweep.
    record = await bot.engine.store.load(incident_id)
    assert record is not None
    stored = Incident.model_validate_json(record.body)
    stored.status = "resolved"
    await bot.engine.store.replace(
        Record(record.id, "resolved", record.version, stored.model_dump_json())
    )
    await _until(lambda: pool.running() == [], "the sandbox stopped by the sweep")
    assert incident_id not in bot.engine.drill_targets


@pytest.fixture
async def socket_drill_bot(
    sandbox: Sandbox, tmp_path: Path, pager: StandIn
) -> AsyncIterator[tuple[SlackApiStandIn, SlackSocketStandIn, SandboxPool]]:
    async with SlackApiStandIn() as api, SlackSocketStandIn(api) as socket:
        api.add_user(BOB, "bob")
        settings = bot_settings(api, sandbox, tmp_path)
        config = game_day_config(sandbox, pager)
        async with running_engine(settings, config) as engine:
            pool = SandboxPool(engine, settings, ready_delay=0.0)
            tokens = SlackTokens(api.bot_token, app_token=api.app_token)
            slack = build_slack(
                engine, config, settings, socket_mode=True, tokens=tokens, sandboxes=pool
            )
            try:
                async with (
                    running_integrations(engine, room_reporter(slack.notifier.ctx)),
                    socket_mode(slack.app, engine, api.app_token, "127.0.0.1", 0),
                ):
                    await socket.wait_connected()
                    yield api, socket, pool
            finally:
                await pool.close()


def click(api: SlackApiStandIn, channel: str, action_id: str, user: str = ALICE) -> dict[str, Any]:
    """The block_actions payload of the newest button `action_id` in the channel."""
    for message in reversed(api.messages(channel)):
        for block in message.get("blocks") or []:
            for element in [*(block.get("elements") or []), block.get("accessory") or {}]:
                if element.get("action_id") == action_id:
                    return block_action_payload(
                        action_id=action_id,
                        value=element.get("value", ""),
                        response_url=api.response_url(channel),
                        user_id=user,
                        channel_id=channel,
                        message_ts=str(message.get("ts", "")),
                    )
    raise AssertionError(f"no {action_id} button in {channel}")


async def test_a_drill_over_socket_mode_runs_to_its_score(
    socket_drill_bot: tuple[SlackApiStandIn, SlackSocketStandIn, SandboxPool], pager: StandIn
) -> None:
    api, socket, pool = socket_drill_bot
    refused = await socket.wait_for_ack(
        await socket.send_slash_command(text="drill api-down --scenario nope")
    )
    assert "no drill scenario 'nope'" in json.dumps(refused)
    started = await socket.wait_for_ack(
        await socket.send_slash_command(text="drill api-down --scenario pending-resources")
    )
    assert "Starting a DRILL of api-down (scenario pending-resources)" in json.dumps(started)
    created = await api.wait_for("conversations.create")
    assert str(created.params["name"]).startswith("drill-0001-")
    channel = str(created.response["channel"]["id"])
    await _until(lambda: "Run diagnostics" in json.dumps(api.messages(channel)), "the stage")
    [incident_id] = pool.running()

    await socket.wait_for_ack(await socket.send_interactive(click(api, channel, actions.RUN_STAGE)))
    await _until(lambda: "Pending" in json.dumps(api.messages(channel)), "the diagnosis")
    await socket.wait_for_ack(await socket.send_interactive(click(api, channel, actions.RESOLVE)))
    await api.wait_for("views.open", lambda c: actions.RESOLVE_VIEW in json.dumps(c.params))
    submit = view_submission_payload(
        callback_id=actions.RESOLVE_VIEW,
        private_metadata=incident_id,
        state_values=RESOLVE_VALUES,
        user_id=ALICE,
    )
    await socket.wait_for_ack(await socket.send_interactive(submit))
    await _until(lambda: "DRILL score" in json.dumps(api.messages(channel)), "the score")
    texts = json.dumps(api.messages(channel))
    assert "scenario 'pending-resources'" in texts
    assert "time to the right root cause (resource-exhaustion): " in texts
    assert "fixes requested that did not fit the findings: 0 (none)" in texts
    assert "status updates on time: 0/" in texts
    assert "C0GENERAL" not in [c.params.get("channel") for c in api.calls_to("chat.postMessage")]
    assert pager.seen == []
    await _until(lambda: pool.running() == [], "the sandbox stopped at resolve")


async def test_a_docker_drill_gets_a_sandbox_docker_engine_of_its_own(
    drill_bot: tuple[SlackBot, SandboxPool],
) -> None:
    bot, pool = drill_bot
    ack = await bot.command("drill api-down-compose")
    assert "Starting a DRILL of api-down-compose (scenario container-crashed)" in ack["text"]
    created = await bot.api.wait_for("conversations.create")
    channel = str(created.response["channel"]["id"])
    await _until(lambda: "Run diagnostics" in bot.texts(channel), "the first stage")
    [incident_id] = pool.running()
    assert bot.engine.drill_targets[incident_id].binding.platform == "docker"
    assert await bot.click(bot.button(channel, actions.RUN_STAGE)) == 200

    async def diagnosed() -> bool:
        runs = (await bot.engine.get(incident_id)).step_runs.values()
        return any(run.status == "problem" for run in runs)

    await _until(diagnosed, "a problem found in the sandbox engine")
    runs = (await bot.engine.get(incident_id)).step_runs.values()
    assert not [r.summary for r in runs if "no-docker-engine" in r.summary]
