"""`POST /slack/events`, `/healthz`, `/readyz` through the real server, signed as Slack signs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

import tests.support.redis_server as redis_server_module
from bot.adapters.slack.client import web_client
from bot.adapters.slack.transport.http import RefuseReplays
from bot.adapters.web import MAX_BODY_BYTES, listening, web_app
from bot.app import running_engine
from bot.config import Config
from bot.engine.engine import Engine
from bot.settings import Settings
from bot.store.base import Store
from tests.support.redis_server import RedisServer
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_signing import (
    FORM_CONTENT_TYPE,
    block_action_body,
    sign,
    slash_command_body,
)

SECRET = "test-signing-secret"
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
async def api() -> AsyncIterator[SlackApiStandIn]:
    async with SlackApiStandIn() as stand_in:
        yield stand_in


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    settings = Settings.from_env({"RUNBOOK_BOT_STATE": str(tmp_path / "state.db")})
    async with running_engine(settings, Config()) as running:
        yield running


def acking_app(
    api: SlackApiStandIn, seen: list[str], store: Store, token: str | None = None
) -> AsyncApp:
    """A tiny Bolt app that acks /incident and the `approve` button, noting what it saw; it
    refuses replays as the bot's own app does."""
    client = AsyncWebClient(token=token or api.bot_token, base_url=api.url)
    app = AsyncApp(client=client, signing_secret=SECRET)
    app.use(RefuseReplays(store))

    @app.command("/incident")
    async def incident(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack()
        seen.append(f"command:{command['text']}")

    @app.action("approve")
    async def approve(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        seen.append(f"action:{body['actions'][0]['value']}")

    return app


@pytest.fixture
def seen() -> list[str]:
    return []


@pytest.fixture
async def base_url(api: SlackApiStandIn, engine: Engine, seen: list[str]) -> AsyncIterator[str]:
    app = web_app(acking_app(api, seen, engine.store), engine, slack_events=True)
    async with listening(app, "127.0.0.1", 0) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(
    http: aiohttp.ClientSession, base_url: str, body: bytes, headers: dict[str, str]
) -> tuple[int, str]:
    async with http.post(
        f"{base_url}/slack/events",
        data=body,
        headers={**headers, "Content-Type": FORM_CONTENT_TYPE},
    ) as response:
        return response.status, await response.text()


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.get(url) as response:
        return response.status, await response.text()


def command(api: SlackApiStandIn, text: str = "api-down") -> bytes:
    return slash_command_body(response_url=api.response_url("C0GENERAL"), text=text)


async def test_signed_command_and_click_reach_the_app(
    api: SlackApiStandIn, http: aiohttp.ClientSession, base_url: str, seen: list[str]
) -> None:
    body = command(api)
    click = block_action_body(
        action_id="approve", value="A1", message_ts="1.000001", response_url=api.response_url()
    )

    assert (await post(http, base_url, body, sign(body, SECRET)))[0] == 200
    assert (await post(http, base_url, click, sign(click, SECRET)))[0] == 200
    assert seen == ["command:api-down", "action:A1"]


async def test_bad_signature_and_stale_timestamp_are_refused(
    api: SlackApiStandIn, http: aiohttp.ClientSession, base_url: str, seen: list[str]
) -> None:
    body = command(api)
    stale = sign(body, SECRET, int(time.time()) - 6 * 60)
    garbage_timestamp = {**sign(body, SECRET), "X-Slack-Request-Timestamp": "soon"}

    assert (await post(http, base_url, body, sign(body, "another-secret")))[0] == 401
    assert (await post(http, base_url, body + b"&x=1", sign(body, SECRET)))[0] == 401
    assert (await post(http, base_url, body, stale))[0] == 401
    assert (await post(http, base_url, body, garbage_timestamp))[0] == 401
    assert (await post(http, base_url, body, {}))[0] == 401
    assert seen == []


async def test_a_replayed_request_is_refused(
    api: SlackApiStandIn, http: aiohttp.ClientSession, base_url: str, seen: list[str]
) -> None:
    body = command(api)
    headers = sign(body, SECRET)

    assert (await post(http, base_url, body, headers))[0] == 200
    assert await post(http, base_url, body, headers) == (401, "replayed request")
    assert seen == ["command:api-down"]


async def test_a_replay_to_another_replica_is_refused_through_redis(
    api: SlackApiStandIn, http: aiohttp.ClientSession, redis_url: str, tmp_path: Path
) -> None:
    settings = Settings.from_env(
        {"REDIS_URL": redis_url, "RUNBOOK_BOT_STATE": str(tmp_path / "unused.db")}
    )
    seen: list[str] = []
    async with (
        running_engine(settings, Config()) as first,
        running_engine(settings, Config()) as second,
    ):
        one = web_app(acking_app(api, seen, first.store), first, slack_events=True)
        other = web_app(acking_app(api, seen, second.store), second, slack_events=True)
        async with listening(one, "127.0.0.1", 0) as a, listening(other, "127.0.0.1", 0) as b:
            body = command(api)
            headers = sign(body, SECRET)
            assert (await post(http, f"http://127.0.0.1:{a}", body, headers))[0] == 200
            assert await post(http, f"http://127.0.0.1:{b}", body, headers) == (
                401,
                "replayed request",
            )

    assert seen == ["command:api-down"]


async def test_a_replay_after_a_restart_is_refused_with_the_embedded_store(
    api: SlackApiStandIn, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    settings = Settings.from_env({"RUNBOOK_BOT_STATE": str(tmp_path / "state.db")})
    seen: list[str] = []
    body = command(api)
    headers = sign(body, SECRET)
    statuses = []
    # Two runs one after the other on the same state file, as a restarted bot is.
    for _ in range(2):
        async with running_engine(settings, Config()) as engine:
            app = web_app(acking_app(api, seen, engine.store), engine, slack_events=True)
            async with listening(app, "127.0.0.1", 0) as port:
                statuses.append(await post(http, f"http://127.0.0.1:{port}", body, headers))

    assert statuses[0][0] == 200
    assert statuses[1] == (401, "replayed request")
    assert seen == ["command:api-down"]


async def test_an_oversized_body_is_refused(
    http: aiohttp.ClientSession, base_url: str, seen: list[str]
) -> None:
    body = urlencode({"text": "x" * MAX_BODY_BYTES}).encode()

    assert (await post(http, base_url, body, sign(body, SECRET)))[0] == 413
    assert seen == []


async def test_malformed_bodies_are_refused_and_the_server_goes_on(
    api: SlackApiStandIn, http: aiohttp.ClientSession, base_url: str, seen: list[str]
) -> None:
    not_json = urlencode({"payload": "{not json"}).encode()
    a_list = urlencode({"payload": json.dumps([1, 2])}).encode()
    not_utf8 = b"text=\xff\xfe"
    for body in (not_json, a_list, not_utf8):
        status, _ = await post(http, base_url, body, sign(body, SECRET))
        assert 400 <= status < 500, body

    good = command(api, "still-serving")
    assert (await post(http, base_url, good, sign(good, SECRET)))[0] == 200
    assert seen == ["command:still-serving"]


async def test_healthz_and_readyz(http: aiohttp.ClientSession, base_url: str) -> None:
    assert await get(http, f"{base_url}/healthz") == (200, "ok")
    assert await get(http, f"{base_url}/readyz") == (200, "ready")


async def test_readyz_is_503_when_slack_refuses_the_token(
    api: SlackApiStandIn, engine: Engine, http: aiohttp.ClientSession
) -> None:
    app = web_app(acking_app(api, [], engine.store, token="xoxb-revoked-token"), engine)
    async with listening(app, "127.0.0.1", 0) as port:
        status, reason = await get(http, f"http://127.0.0.1:{port}/readyz")

    assert (status, reason) == (503, "slack auth failed: invalid_auth")


async def test_readyz_follows_redis_down_and_back(
    api: SlackApiStandIn,
    http: aiohttp.ClientSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = RedisServer()
    server.start()
    settings = Settings.from_env(
        {"REDIS_URL": server.url, "RUNBOOK_BOT_STATE": str(tmp_path / "unused.db")}
    )
    try:
        async with running_engine(settings, Config()) as engine:
            app = web_app(acking_app(api, [], engine.store), engine, slack_events=True)
            async with listening(app, "127.0.0.1", 0) as port:
                readyz = f"http://127.0.0.1:{port}/readyz"
                assert (await get(http, readyz))[0] == 200

                server.stop()
                status, reason = await get(http, readyz)
                assert status == 503
                assert reason.startswith("store unavailable: redis store:")
                assert "\n" not in reason

                # Back on the same port, as a restarted Redis behind the same URL would be.
                monkeypatch.setattr(redis_server_module, "free_port", lambda: server.port)
                await asyncio.to_thread(server.start)
                assert await eventually_ready(http, readyz)
    finally:
        server.stop()


async def eventually_ready(http: aiohttp.ClientSession, url: str) -> bool:
    """True once /readyz answers 200; a pooled connection to the old server may fail once."""
    for _ in range(20):
        if (await get(http, url))[0] == 200:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_web_client_retries_a_rate_limited_call(api: SlackApiStandIn) -> None:
    client = web_client(
        Settings.from_env({"SLACK_BOT_TOKEN": api.bot_token, "SLACK_API_URL": api.url})
    )
    api.rate_limit("chat.postMessage", times=2, retry_after=0)

    await client.chat_postMessage(channel="C0GENERAL", text="after two 429s")

    assert [c.status for c in api.calls_to("chat.postMessage")] == [429, 429, 200]
    assert [m["text"] for m in api.messages("general")] == ["after two 429s"]


async def test_web_client_gives_up_after_three_retries(api: SlackApiStandIn) -> None:
    client = web_client(
        Settings.from_env({"SLACK_BOT_TOKEN": api.bot_token, "SLACK_API_URL": api.url})
    )
    api.rate_limit("chat.postMessage", times=5, retry_after=0)

    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C0GENERAL", text="never")

    assert raised.value.response.status_code == 429
    assert len(api.calls_to("chat.postMessage")) == 4


def cli_env(tmp_path: Path, api: SlackApiStandIn, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "REDIS_URL", "RUNBOOK_BOT_"))
    }
    return {
        **env,
        "SLACK_API_URL": api.url,
        "RUNBOOK_BOT_STATE": str(tmp_path / "state.db"),
        **extra,
    }


async def run_cli(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args,
        cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_serve_without_the_signing_secret_is_a_one_line_error(
    api: SlackApiStandIn, tmp_path: Path
) -> None:
    env = cli_env(tmp_path, api, SLACK_BOT_TOKEN=api.bot_token)
    process = await run_cli(env, "serve", "--port", "0")
    _, stderr = await process.communicate()

    assert process.returncode == 1
    assert stderr.decode().splitlines() == [
        "error: SLACK_SIGNING_SECRET is not set (see 'Connecting to Slack' in the README)"
    ]


async def test_serve_answers_healthz_and_exits_cleanly_on_sigterm(
    api: SlackApiStandIn, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    port = redis_server_module.free_port()
    env = cli_env(tmp_path, api, SLACK_BOT_TOKEN=api.bot_token, SLACK_SIGNING_SECRET=SECRET)
    process = await run_cli(env, "serve", "--host", "127.0.0.1", "--port", str(port))
    try:
        assert await eventually_healthy(http, f"http://127.0.0.1:{port}/healthz", process)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert process.returncode == 0, stderr.decode()


async def eventually_healthy(
    http: aiohttp.ClientSession, url: str, process: asyncio.subprocess.Process
) -> bool:
    """True once the subprocess answers /healthz; False if it exits first."""
    # Bounds a hang on a loaded box; it is not a performance check.
    for _ in range(600):
        if process.returncode is not None:
            return False
        try:
            if (await get(http, url))[0] == 200:
                return True
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    return False
