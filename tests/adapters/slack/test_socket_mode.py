"""Socket Mode against a local websocket that speaks Slack's envelopes, with health over HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.transport.socket_mode import socket_mode
from bot.app import running_engine
from bot.config import Config
from bot.engine.engine import Engine
from bot.errors import ConfigError
from bot.settings import Settings
from tests.support.redis_server import free_port
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_signing import block_action_payload
from tests.support.slack_socket import SlackSocketStandIn

REPO = Path(__file__).resolve().parents[3]
SECRET = "test-signing-secret"


@pytest.fixture
async def api() -> AsyncIterator[SlackApiStandIn]:
    async with SlackApiStandIn() as stand_in:
        yield stand_in


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    settings = Settings.from_env({"RUNBOOK_BOT_STATE": str(tmp_path / "state.db")})
    async with running_engine(settings, Config()) as running:
        yield running


def acking_app(api: SlackApiStandIn) -> AsyncApp:
    """A tiny Bolt app: answers /incident in its ack, acks the `approve` button."""
    app = AsyncApp(client=AsyncWebClient(token=api.bot_token, base_url=api.url))

    @app.command("/incident")
    async def incident(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack(text=f"Opening {command['text']}")

    @app.action("approve")
    async def approve(ack: AsyncAck) -> None:
        await ack()

    return app


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


async def test_envelopes_are_acked_and_health_is_served(
    api: SlackApiStandIn, engine: Engine
) -> None:
    async with (
        SlackSocketStandIn(api) as socket,
        socket_mode(acking_app(api), engine, api.app_token, "127.0.0.1", 0) as port,
    ):
        await socket.wait_connected()
        command_ack = await socket.wait_for_ack(await socket.send_slash_command(text="api-down"))
        click = block_action_payload(
            action_id="approve", value="A1", response_url=api.response_url()
        )
        click_ack = await socket.wait_for_ack(await socket.send_interactive(click))
        health = await get(f"http://127.0.0.1:{port}/healthz")
        ready = await get(f"http://127.0.0.1:{port}/readyz")
        events = await get(f"http://127.0.0.1:{port}/slack/events")

    assert command_ack["payload"] == {"text": "Opening api-down"}
    assert "payload" not in click_ack
    assert (health, ready) == ((200, "ok"), (200, "ready"))
    assert events[0] == 404  # Socket Mode takes no HTTP events
    [opened] = api.calls_to("apps.connections.open")
    assert opened.token == api.app_token


async def test_a_refused_app_token_is_a_one_line_error(
    api: SlackApiStandIn, engine: Engine
) -> None:
    async with SlackSocketStandIn(api):
        with pytest.raises(ConfigError) as raised:
            async with socket_mode(acking_app(api), engine, "xapp-wrong", "127.0.0.1", 0):
                pass

    assert str(raised.value) == "Slack refused the Socket Mode connection: invalid_auth"


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


async def test_socket_without_the_app_token_is_a_one_line_error(
    api: SlackApiStandIn, tmp_path: Path
) -> None:
    process = await run_cli(cli_env(tmp_path, api, SLACK_BOT_TOKEN=api.bot_token), "socket")
    _, stderr = await process.communicate()

    assert process.returncode == 1
    assert stderr.decode().splitlines() == [
        "error: SLACK_APP_TOKEN is not set (see 'Connecting to Slack' in the README)"
    ]


async def test_socket_command_connects_and_exits_cleanly_on_sigterm(
    api: SlackApiStandIn, tmp_path: Path
) -> None:
    port = free_port()
    # No signing secret: Socket Mode has no HTTP requests to verify.
    env = cli_env(tmp_path, api, SLACK_BOT_TOKEN=api.bot_token, SLACK_APP_TOKEN=api.app_token)
    async with SlackSocketStandIn(api) as socket:
        process = await run_cli(env, "socket", "--host", "127.0.0.1", "--port", str(port))
        try:
            await socket.wait_connected(timeout=60)
            assert await get(f"http://127.0.0.1:{port}/healthz") == (200, "ok")
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 60)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()

    assert process.returncode == 0, stderr.decode()
