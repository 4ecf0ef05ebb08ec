"""A whole Slack bot for scenario tests: sandbox cluster, engine, Bolt app behind its real
aiohttp endpoint, and the Slack Web API stand-in it talks to."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.adapters.slack.context import SlackContext
from bot.adapters.slack.factory import SlackTokens, build_slack
from bot.adapters.slack.transport.socket_mode import socket_mode
from bot.adapters.web import listening, web_app
from bot.app import running_engine
from bot.config import Channels, Config, ServiceBinding
from bot.drills.kubernetes import Sandbox
from bot.engine.engine import Engine
from bot.settings import Settings
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_signing import (
    block_action_body,
    event_payload,
    form_body,
    sign,
    slash_command_body,
    view_submission_body,
)
from tests.support.slack_socket import SlackSocketStandIn

SIGNING_SECRET = "test-signing-secret-0123456789"
REPO = Path(__file__).resolve().parents[3]
ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"


@dataclass
class SlackBot:
    """Drives the bot the way Slack does, and reads what it posted."""

    api: SlackApiStandIn
    engine: Engine
    sandbox: Sandbox
    url: str
    session: aiohttp.ClientSession
    # What the listeners share (rooms, identities), for driving the adapter directly.
    ctx: SlackContext | None = None

    async def send(
        self, body: bytes, headers: dict[str, str] | None = None
    ) -> aiohttp.ClientResponse:
        signed = {"Content-Type": "application/x-www-form-urlencoded", **sign(body, SIGNING_SECRET)}
        async with self.session.post(
            self.url, data=body, headers={**signed, **(headers or {})}
        ) as r:
            await r.read()
            return r

    async def command(
        self, text: str, user: str = ALICE, channel: str = "C0GENERAL"
    ) -> dict[str, Any]:
        """Run `/incident TEXT`; returns the immediate (ack) response body."""
        body = slash_command_body(
            response_url=self.api.response_url(channel), text=text, user_id=user, channel_id=channel
        )
        signed = {"Content-Type": "application/x-www-form-urlencoded", **sign(body, SIGNING_SECRET)}
        async with self.session.post(self.url, data=body, headers=signed) as response:
            assert response.status == 200, await response.text()
            raw = await response.text()
        return json.loads(raw) if raw else {}

    async def event(self, event: dict[str, Any]) -> aiohttp.ClientResponse:
        """Deliver an Events API event as Slack POSTs it: signed JSON, an `event_callback`."""
        body = json.dumps(event_payload(event)).encode()
        return await self.send(body, {"Content-Type": "application/json"})

    async def shortcut(self, payload: dict[str, Any]) -> int:
        """Deliver a shortcut's interaction payload (a `message_action`); returns the status."""
        return (await self.send(form_body(payload))).status

    async def click(
        self,
        button: dict[str, Any],
        user: str = ALICE,
        channel: str = "",
        option: dict[str, Any] | None = None,
    ) -> int:
        """Click a button, or with `option`, pick that option of a select."""
        body = block_action_body(
            action_id=button["action_id"],
            value=button.get("value", ""),
            response_url=self.api.response_url(channel or None),
            user_id=user,
            channel_id=channel or button.get("_channel", "C0GENERAL"),
            message_ts=button.get("_ts", ""),
            selected=option,
        )
        response = await self.send(body)
        return response.status

    async def submit(
        self, callback_id: str, metadata: str, values: dict[str, Any], user: str = ALICE
    ) -> int:
        body = view_submission_body(
            callback_id=callback_id, private_metadata=metadata, state_values=values, user_id=user
        )
        return (await self.send(body)).status

    def buttons(self, channel: str, action_id: str) -> list[dict[str, Any]]:
        """Every button with this action id in the channel's messages, newest message last."""
        found = []
        for message in self.api.messages(channel):
            for block in message.get("blocks") or []:
                elements = list(block.get("elements") or [])
                if block.get("accessory"):
                    elements.append(block["accessory"])
                for element in elements:
                    if element.get("action_id") == action_id:
                        found.append({**element, "_channel": channel, "_ts": message.get("ts", "")})
        return found

    def button(self, channel: str, action_id: str, step: str = "") -> dict[str, Any]:
        matches = [
            b for b in self.buttons(channel, action_id)
            if not step or json.loads(b.get("value") or "{}").get("s") == step
        ]  # fmt: skip
        assert matches, f"no {action_id} button for '{step}' in {channel}"
        return matches[-1]

    def texts(self, channel: str) -> str:
        """All text the bot posted in a channel (fallback text and block text), for asserts."""
        return json.dumps(self.api.messages(channel))


def bot_settings(
    api: SlackApiStandIn, sandbox: Sandbox, tmp_path: Path, playbooks: Path = REPO / "playbooks"
) -> Settings:
    """Settings of a bot talking to the Slack stand-in and the sandbox, its state in tmp_path."""
    return dataclasses.replace(
        Settings.from_env({}),
        slack_bot_token=api.bot_token,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=api.url,
        kubeconfig=str(sandbox.write_kubeconfig(tmp_path / "kubeconfig")),
        state_path=tmp_path / "state.db",
        playbooks_dir=playbooks,
        templates_dir=REPO / "templates",
    )


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start("oom-bad-deploy", ready_delay=0.0) as sb:
        yield sb


@pytest.fixture
async def slack_bot(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[SlackBot]:
    async with SlackApiStandIn() as api:
        api.add_user(BOB, "bob")
        api.add_user(CAROL, "carol")
        settings = bot_settings(api, sandbox, tmp_path)
        config = Config(
            services={"ecap-api": ServiceBinding.model_validate(sandbox.binding())},
            approvers=[ALICE, BOB],
            channels=Channels(incidents="C0GENERAL"),
        )
        async with running_engine(settings, config) as engine:
            slack = build_slack(engine, config, settings)
            app = web_app(slack.app, engine, slack_events=True)
            async with listening(app, "127.0.0.1", 0) as port, aiohttp.ClientSession() as session:
                url = f"http://127.0.0.1:{port}/slack/events"
                yield SlackBot(api, engine, sandbox, url, session, slack.notifier.ctx)


@dataclass
class SocketBot:
    """The same bot over Socket Mode: envelopes in through the websocket stand-in."""

    api: SlackApiStandIn
    engine: Engine
    socket: SlackSocketStandIn


@pytest.fixture
async def socket_bot(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[SocketBot]:
    async with SlackApiStandIn() as api, SlackSocketStandIn(api) as socket:
        settings = bot_settings(api, sandbox, tmp_path)
        config = Config(
            services={"ecap-api": ServiceBinding.model_validate(sandbox.binding())},
            approvers=[ALICE, BOB],
            channels=Channels(incidents="C0GENERAL"),
        )
        tokens = SlackTokens(api.bot_token, app_token=api.app_token)
        async with running_engine(settings, config) as engine:
            slack = build_slack(engine, config, settings, socket_mode=True, tokens=tokens)
            async with socket_mode(slack.app, engine, api.app_token, "127.0.0.1", 0):
                await socket.wait_connected()
                yield SocketBot(api, engine, socket)
