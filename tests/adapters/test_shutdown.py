"""SIGTERM to a real `runbook-bot serve`: work under way finishes, leases are released, exit 0."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from redis.asyncio import Redis
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.inflight import InFlight
from bot.adapters.slack import actions
from bot.adapters.web import listening, web_app
from bot.app import running_engine
from bot.config import Config, load_config
from bot.drills.kubernetes import Sandbox
from bot.engine.engine import Engine
from bot.engine.incident import Actor, Incident
from bot.settings import Settings
from bot.store.redis import RedisStore
from tests.scenarios.conftest import BOT, TIMEOUT_S, bot_env
from tests.support.redis_server import RedisServer, free_port
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_signing import (
    FORM_CONTENT_TYPE,
    block_action_body,
    block_action_payload,
    sign,
    slash_command_body,
)
from tests.support.slack_socket import SlackSocketStandIn
from tests.support.slack_workspace import BOT_USER_ID

SECRET = "test-signing-secret-shutdown"
REPO = Path(__file__).resolve().parents[2]
ALICE = "U0ALICE"
# Each call to the sandbox's API waits this long, so the approved rollback is still being
# applied when SIGTERM arrives.
FIX_LATENCY_S = 1.5


class RunningBot:
    """A `runbook-bot serve` subprocess on a known port, driven the way Slack drives it."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        port: int,
        api: SlackApiStandIn,
        socket: SlackSocketStandIn | None,
    ) -> None:
        self.process = process
        self.base = f"http://127.0.0.1:{port}"
        self.api = api
        # Socket Mode: commands and clicks arrive as envelopes on the websocket instead.
        self.socket = socket
        self.http = aiohttp.ClientSession()

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.base + path) as response:
            return response.status, await response.text()

    async def post(self, body: bytes) -> tuple[int, str]:
        headers = {"Content-Type": FORM_CONTENT_TYPE, **sign(body, SECRET)}
        async with self.http.post(self.base + "/slack/events", data=body, headers=headers) as r:
            return r.status, await r.text()

    async def command(self, text: str) -> int:
        if self.socket is not None:
            envelope = await self.socket.send_slash_command(text=text, user_id=ALICE)
            await self.socket.wait_for_ack(envelope, timeout=TIMEOUT_S)
            return 200
        body = slash_command_body(
            response_url=self.api.response_url("C0GENERAL"), text=text, user_id=ALICE
        )
        return (await self.post(body))[0]

    async def click(self, button: dict[str, Any]) -> int:
        click: dict[str, Any] = {
            "action_id": button["action_id"],
            "value": button.get("value", ""),
            "response_url": self.api.response_url(button["_channel"]),
            "user_id": ALICE,
            "channel_id": button["_channel"],
            "message_ts": button["_ts"],
        }
        if self.socket is not None:
            envelope = await self.socket.send_interactive(block_action_payload(**click))
            await self.socket.wait_for_ack(envelope, timeout=TIMEOUT_S)
            return 200
        return (await self.post(block_action_body(**click)))[0]

    def buttons(self, channel: str, action_id: str, step: str = "") -> list[dict[str, Any]]:
        found = []
        for message in self.api.messages(channel):
            for block in message.get("blocks") or []:
                elements = [*(block.get("elements") or []), block.get("accessory") or {}]
                for element in elements:
                    value = json.loads(element.get("value") or "{}")
                    if element.get("action_id") == action_id and (not step or value["s"] == step):
                        found.append({**element, "_channel": channel, "_ts": message["ts"]})
        return found

    async def healthy(self) -> bool:
        """True once /healthz answers; False if the process exits first."""
        # Bounds a hang on a loaded box; it is not a performance check.
        for _ in range(int(TIMEOUT_S * 10)):
            if self.process.returncode is not None:
                return False
            try:
                if (await self.get("/healthz"))[0] == 200:
                    return True
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
        return False

    async def exit_code(self) -> tuple[int, str]:
        """Waits for the exit; the return code and what it printed on stderr."""
        _, stderr = await asyncio.wait_for(self.process.communicate(), TIMEOUT_S)
        assert self.process.returncode is not None
        return self.process.returncode, stderr.decode()

    async def close(self) -> None:
        await self.http.close()
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


async def start_bot(
    env: dict[str, str], api: SlackApiStandIn, socket: SlackSocketStandIn | None = None
) -> RunningBot:
    """`runbook-bot serve`, or `runbook-bot socket` connected to the socket stand-in."""
    port = free_port()
    mode = "serve" if socket is None else "socket"
    process = await asyncio.create_subprocess_exec(
        str(BOT), mode, "--host", "127.0.0.1", "--port", str(port),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    bot = RunningBot(process, port, api, socket)
    if not await bot.healthy():
        _, stderr = await bot.exit_code()
        await bot.close()
        pytest.fail(f"runbook-bot {mode} did not come up:\n{stderr}")
    if socket is not None:
        await socket.wait_connected(timeout=TIMEOUT_S)
    return bot


def serve_env(
    tmp_path: Path, api: SlackApiStandIn, redis_url: str, services: dict[str, Any], **extra: str
) -> dict[str, str]:
    config = {"services": services, "approvers": [ALICE], "channels": {"incidents": "C0GENERAL"}}
    config_path = tmp_path / "runbook-bot.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    settings = {
        "SLACK_BOT_TOKEN": api.bot_token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": api.url,
        "REDIS_URL": redis_url,
        "RUNBOOK_BOT_CONFIG": str(config_path),
        "RUNBOOK_BOT_STATE": str(tmp_path / "unused.db"),
        "RUNBOOK_BOT_PLAYBOOKS": str(REPO / "playbooks"),
        "RUNBOOK_BOT_TEMPLATES": str(REPO / "templates"),
    }
    return bot_env(**{**settings, **extra})


async def until(condition: Any, what: str, bot: RunningBot) -> None:
    """Waits for `condition()`, failing with the bot's stderr if it exits first."""
    # Bounds a hang on a loaded box; it is not a performance check.
    for _ in range(int(TIMEOUT_S * 20)):
        if await condition():
            return
        if bot.process.returncode is not None:
            pytest.fail(f"the bot exited waiting for {what}: {(await bot.exit_code())[1]}")
        await asyncio.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


async def stored(store: RedisStore, incident_id: str) -> Incident | None:
    record = await store.load(incident_id)
    return None if record is None else Incident.model_validate_json(record.body)


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


async def test_sigterm_mid_fix_finishes_the_fix_and_persists_it(
    redis: RedisServer, api: SlackApiStandIn, sandbox: Sandbox, tmp_path: Path
) -> None:
    kubeconfig = str(sandbox.write_kubeconfig(tmp_path / "kubeconfig"))
    env = serve_env(
        tmp_path, api, redis.url, {"ecap-api": sandbox.binding()}, KUBECONFIG=kubeconfig
    )
    bot = await start_bot(env, api)
    try:
        await approve_rollback_then_sigterm(bot, sandbox, redis.url)
        assert (await bot.get("/healthz"))[0] == 200
        late = slash_command_body(response_url=api.response_url("C0GENERAL"), text="api-down")
        assert await bot.post(late) == (503, "shutting down")
        returncode, stderr = await bot.exit_code()
    finally:
        await bot.close()

    assert returncode == 0, stderr
    await assert_rollback_applied_once(sandbox, redis.url, stderr)
    assert not any(c.params.get("text") == "api-down" for c in api.calls_to("response_url"))


async def test_socket_mode_sigterm_mid_fix_finishes_the_fix_and_persists_it(
    redis: RedisServer, api: SlackApiStandIn, sandbox: Sandbox, tmp_path: Path
) -> None:
    kubeconfig = str(sandbox.write_kubeconfig(tmp_path / "kubeconfig"))
    services = {"ecap-api": sandbox.binding()}
    env = serve_env(
        tmp_path, api, redis.url, services, KUBECONFIG=kubeconfig, SLACK_APP_TOKEN=api.app_token
    )
    async with SlackSocketStandIn(api) as socket:
        bot = await start_bot(env, api, socket)
        try:
            await approve_rollback_then_sigterm(bot, sandbox, redis.url)
            returncode, stderr = await bot.exit_code()
        finally:
            await bot.close()
        # Closed on purpose: the client did not reconnect while the fix finished.
        assert socket.connections_opened == 1

    assert returncode == 0, stderr
    await assert_rollback_applied_once(sandbox, redis.url, stderr)


async def approve_rollback_then_sigterm(bot: RunningBot, sandbox: Sandbox, redis_url: str) -> None:
    """Open the incident, diagnose, request and approve the rollback; SIGTERM once the
    approval is stored, while the (slowed) rollback is being applied; wait for the drain."""
    assert await bot.command("api-down ecap-api the API answers 503") == 200
    created = await bot.api.wait_for("conversations.create", timeout=TIMEOUT_S)
    channel = str(created.response["channel"]["id"])

    async def stage_shown() -> bool:
        return bool(bot.buttons(channel, actions.RUN_STAGE))

    await until(stage_shown, "the first stage", bot)
    assert await bot.click(bot.buttons(channel, actions.RUN_STAGE)[-1]) == 200

    async def rollback_offered() -> bool:
        return bool(bot.buttons(channel, actions.REQUEST_FIX, "rollback"))

    await until(rollback_offered, "the rollback suggested by the diagnosis", bot)
    assert await bot.click(bot.buttons(channel, actions.REQUEST_FIX, "rollback")[-1]) == 200

    async def approval_asked() -> bool:
        return bool(bot.buttons(channel, actions.APPROVE))

    await until(approval_asked, "the approval request", bot)
    assert not sandbox.healthy(), "nothing changes before approval"

    sandbox.set_latency(FIX_LATENCY_S)
    assert await bot.click(bot.buttons(channel, actions.APPROVE)[-1]) == 200
    store = RedisStore(redis_url)

    async def approved() -> bool:
        incident = await stored(store, "INC-0001")
        # Approved, then applying a moment later, once the change is about to be sent.
        return incident is not None and incident.approvals["A1"].state in ("approved", "applying")

    # Approved is stored before the fix runs: from here the rollback is under way.
    await until(approved, "the approval to be stored", bot)
    await store.close()
    bot.process.send_signal(signal.SIGTERM)

    async def draining() -> bool:
        try:
            return await bot.get("/readyz") == (503, "shutting down")
        except aiohttp.ClientConnectionError:
            return False  # gone already: `until` reports the exit

    await until(draining, "/readyz to say the bot is shutting down", bot)


async def assert_rollback_applied_once(sandbox: Sandbox, redis_url: str, stderr: str) -> None:
    assert "Traceback" not in stderr
    assert sandbox.healthy(), "the rollback reached the cluster"
    store = RedisStore(redis_url)
    incident = await stored(store, "INC-0001")
    await store.close()
    assert incident is not None
    approval = incident.approvals["A1"]
    assert approval.state == "applied"
    assert approval.result is not None and approval.result.status == "ok"
    assert approval.verification is not None
    assert [e.event for e in incident.timeline].count("fix-applied") == 1


async def test_sigterm_releases_the_timer_claim_of_a_firing_under_way(
    redis: RedisServer, api: SlackApiStandIn, tmp_path: Path
) -> None:
    services = {"ecap-api": {"namespace": "prod", "deployment": "ecap-api"}}
    env = serve_env(tmp_path, api, redis.url, services)
    channel = api.add_channel("inc-0001-api-down", members=[BOT_USER_ID])
    await open_incident_long_ago(env, channel, minutes=20)
    # The overdue escalation's post is refused for a while, so its firing is under way (and
    # its claim held) when SIGTERM arrives.
    api.rate_limit("chat.postMessage", times=12, retry_after=3)
    client: Redis = Redis.from_url(redis.url, decode_responses=True)
    bot = await start_bot(env, api)
    try:
        await api.wait_for("chat.postMessage", timeout=TIMEOUT_S)
        held = [k async for k in client.scan_iter("*claim:timer:{INC-0001}:*")]
        assert held, "the firing holds its claim"
        bot.process.send_signal(signal.SIGTERM)
        returncode, stderr = await bot.exit_code()
    finally:
        await bot.close()

    left = [k async for k in client.scan_iter("*claim:timer:{INC-0001}:*")]
    await client.aclose()
    assert returncode == 0, stderr
    assert left == [], "another replica can fire it at once instead of waiting for expiry"


async def open_incident_long_ago(env: dict[str, str], channel: str, minutes: int) -> None:
    """An incident in the store opened `minutes` ago in `channel`, as a replica left it."""
    settings = Settings.from_env(env)
    config = load_config(settings.config_path)
    async with running_engine(settings, config) as engine:
        incident = await engine.open("api-down", "ecap-api", Actor(id=ALICE, name="alice"))
        await engine.set_links(incident.id, {"slack.channel": channel})
        record = await engine.store.load(incident.id)
        assert record is not None
        body = Incident.model_validate_json(record.body)
        body.opened_at = datetime.now(UTC) - timedelta(minutes=minutes)
        await engine.store.replace(dataclasses.replace(record, body=body.model_dump_json()))


class SlowListeners:
    """A Bolt app whose `/incident` acks at once and then works until told to finish."""

    def __init__(self, api: SlackApiStandIn) -> None:
        self.finish = asyncio.Event()
        self.started = asyncio.Event()
        self.outcomes: list[str] = []
        self.app = AsyncApp(
            client=AsyncWebClient(token=api.bot_token, base_url=api.url),
            signing_secret=SECRET,
            process_before_response=False,
        )

        @self.app.command("/incident")
        async def incident(ack: AsyncAck) -> None:
            await ack()
            # Work started by the listener's own work is waited for as well.
            await asyncio.create_task(self._work())

    async def _work(self) -> None:
        self.started.set()
        try:
            await self.finish.wait()
            self.outcomes.append("finished")
        except asyncio.CancelledError:
            self.outcomes.append("cancelled")
            raise


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[Engine]:
    settings = Settings.from_env({"RUNBOOK_BOT_STATE": str(tmp_path / "state.db")})
    async with running_engine(settings, Config()) as engine:
        yield engine


async def test_drain_waits_for_work_after_the_ack_and_refuses_new_requests(
    api: SlackApiStandIn, sqlite_engine: Engine
) -> None:
    slow = SlowListeners(api)
    inflight = InFlight()
    app = web_app(slow.app, sqlite_engine, slack_events=True, inflight=inflight)
    async with (
        listening(app, "127.0.0.1", 0) as port,
        inflight.tracking(),
        aiohttp.ClientSession() as http,
    ):
        url = f"http://127.0.0.1:{port}/slack/events"
        body = slash_command_body(response_url=api.response_url("C0GENERAL"), text="api-down")
        headers = {"Content-Type": FORM_CONTENT_TYPE, **sign(body, SECRET)}
        async with http.post(url, data=body, headers=headers) as response:
            assert response.status == 200
        await slow.started.wait()

        drained = asyncio.create_task(inflight.drain(timeout=TIMEOUT_S))
        await asyncio.sleep(0)  # the drain's first step marks it draining
        assert inflight.draining
        again = slash_command_body(response_url=api.response_url("C0GENERAL"), text="late")
        headers = {"Content-Type": FORM_CONTENT_TYPE, **sign(again, SECRET)}
        async with http.post(url, data=again, headers=headers) as response:
            assert (response.status, await response.text()) == (503, "shutting down")
        async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
            assert (response.status, await response.text()) == (503, "shutting down")
        assert not drained.done(), "the drain waits for the work under way"

        slow.finish.set()
        assert await drained == 0
    assert slow.outcomes == ["finished"]


async def test_drain_cancels_work_still_running_at_its_bound(
    api: SlackApiStandIn, sqlite_engine: Engine
) -> None:
    slow = SlowListeners(api)
    inflight = InFlight()
    app = web_app(slow.app, sqlite_engine, slack_events=True, inflight=inflight)
    async with (
        listening(app, "127.0.0.1", 0) as port,
        inflight.tracking(),
        aiohttp.ClientSession() as http,
    ):
        body = slash_command_body(response_url=api.response_url("C0GENERAL"), text="api-down")
        headers = {"Content-Type": FORM_CONTENT_TYPE, **sign(body, SECRET)}
        url = f"http://127.0.0.1:{port}/slack/events"
        async with http.post(url, data=body, headers=headers) as response:
            assert response.status == 200
        await slow.started.wait()

        # The listener's task and the task it awaits are both cut short.
        assert await inflight.drain(timeout=0.2) == 2
    assert slow.outcomes == ["cancelled"]
