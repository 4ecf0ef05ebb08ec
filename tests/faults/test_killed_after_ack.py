"""`kill -9` of a real `runbook-bot serve` right after it acked a Slack request: the decision
acked is in the store, and another replica on the same Redis completes what follows, once.

The process kills itself at the `slack-acked` crash point: its ack has been written out, nothing
after it has run.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.adapters.slack import actions
from bot.adapters.slack.intake import ACKED
from bot.adapters.slack.rooms import CHANNEL, HEADLINE, ROOM_PENDING
from bot.drills.kubernetes import Sandbox
from bot.store.redis import RedisStore
from tests.adapters.test_shutdown import RunningBot, serve_env, start_bot, stored, until
from tests.support.redis_server import RedisServer
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_signing import block_action_body, slash_command_body

ALICE = "U0ALICE"


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
async def api() -> AsyncIterator[SlackApiStandIn]:
    async with SlackApiStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start("oom-bad-deploy", ready_delay=0.0) as sb:
        yield sb


@pytest.fixture
def env(
    redis: RedisServer, api: SlackApiStandIn, sandbox: Sandbox, tmp_path: Path
) -> dict[str, str]:
    kubeconfig = str(sandbox.write_kubeconfig(tmp_path / "kubeconfig"))
    return serve_env(
        tmp_path, api, redis.url, {"ecap-api": sandbox.binding()}, KUBECONFIG=kubeconfig
    )


async def killed_after_ack(bot: RunningBot, body: bytes) -> str:
    """Posts `body`; returns the ack's text once the process has died at the crash point."""
    status, text = await bot.post(body)
    assert status == 200, text
    assert await bot.process.wait() == -signal.SIGKILL
    await bot.close()
    return text


async def test_an_open_acked_then_killed_gets_its_room_from_another_replica_once(
    env: dict[str, str], api: SlackApiStandIn, redis: RedisServer
) -> None:
    first = await start_bot({**env, "RUNBOOK_BOT_CRASH_AT": ACKED}, api)
    command = slash_command_body(
        response_url=api.response_url("C0GENERAL"), text="api-down ecap-api killed", user_id=ALICE
    )
    acked = await killed_after_ack(first, command)

    assert "Opening INC-0001" in acked
    store = RedisStore(redis.url)
    try:
        incident = await stored(store, "INC-0001")
        assert incident is not None, "the incident acked is stored"
        assert incident.links[ROOM_PENDING] and CHANNEL not in incident.links
        assert api.calls_to("conversations.create") == []

        second = await start_bot(env, api)
        try:
            # Any touch (or the periodic repair) makes a pending room; here, asking its status.
            status = slash_command_body(
                response_url=api.response_url("C0GENERAL"), text="status INC-0001", user_id=ALICE
            )
            assert (await second.post(status))[0] == 200

            async def room_made() -> bool:
                found = await stored(store, "INC-0001")
                return (
                    found is not None
                    and HEADLINE in found.links
                    and not found.links.get(ROOM_PENDING)
                )

            await until(room_made, "the room made by the second replica", second)
        finally:
            await second.close()
        assert len(api.calls_to("conversations.create")) == 1
        assert [r.id for r in await store.list()] == ["INC-0001"]
    finally:
        await store.close()


async def test_a_click_acked_then_killed_is_stored_once(
    env: dict[str, str], api: SlackApiStandIn, redis: RedisServer
) -> None:
    opener = await start_bot(env, api)
    try:
        assert await opener.command("api-down ecap-api the API answers 503") == 200
        created = await api.wait_for("conversations.create", timeout=60)
        channel = str(created.response["channel"]["id"])

        async def headline() -> bool:
            return bool(opener.buttons(channel, actions.COMMANDER))

        await until(headline, "the headline", opener)
        button = opener.buttons(channel, actions.COMMANDER)[-1]
    finally:
        await opener.close()

    clicker = await start_bot({**env, "RUNBOOK_BOT_CRASH_AT": ACKED}, api)
    click = block_action_body(
        action_id=button["action_id"],
        value=button["value"],
        response_url=api.response_url(channel),
        user_id=ALICE,
        channel_id=channel,
        message_ts=button["_ts"],
    )
    await killed_after_ack(clicker, click)

    store = RedisStore(redis.url)
    try:
        incident = await stored(store, "INC-0001")
    finally:
        await store.close()
    assert incident is not None
    assert incident.commander == ALICE.lower()  # the name Slack sends with the click
    assert [e.event for e in incident.timeline].count("commander") == 1
