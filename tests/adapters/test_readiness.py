"""/readyz of a real `runbook-bot serve` follows a real redis-server going away and coming back."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import tests.support.redis_server as redis_server_module
from tests.adapters.test_shutdown import RunningBot, serve_env, start_bot, until
from tests.support.redis_server import RedisServer
from tests.support.slack_api import SlackApiStandIn

PASSWORD = "redis-pass-for-readiness"


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with RedisServer(password=PASSWORD) as server:
        yield server


@pytest.fixture
async def api() -> AsyncIterator[SlackApiStandIn]:
    async with SlackApiStandIn() as stand_in:
        yield stand_in


async def test_readyz_fails_while_redis_is_down_and_recovers_without_a_restart(
    redis: RedisServer, api: SlackApiStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = {"ecap-api": {"namespace": "prod", "deployment": "ecap-api"}}
    bot = await start_bot(serve_env(tmp_path, api, redis.url, services), api)
    try:
        assert await bot.get("/readyz") == (200, "ready")

        redis.stop()
        status, reason = await bot.get("/readyz")
        assert status == 503
        assert reason.startswith("store unavailable: "), reason
        assert "\n" not in reason and PASSWORD not in reason
        assert await bot.get("/healthz") == (200, "ok"), "the process itself is fine"

        # Back on the same port, as a restarted Redis behind the same URL would be.
        monkeypatch.setattr(redis_server_module, "free_port", lambda: redis.port)
        await asyncio.to_thread(redis.start)

        probes = 2

        async def ready() -> bool:
            nonlocal probes
            probes += 1
            return await bot.get("/readyz") == (200, "ready")

        # A pooled connection to the old server may fail once before a new one is made.
        await until(ready, "/readyz to recover", bot)
        assert bot.process.returncode is None, "recovered without a restart"

        # The store is asked on every probe; Slack's answer is cached (auth.test is rate
        # limited) and was not asked at all while the store was down.
        assert len(api.calls_to("auth.test")) < probes
        await stop(bot)
    finally:
        await bot.close()


async def test_readyz_says_why_when_slack_refuses_the_token_while_redis_is_up(
    redis: RedisServer, api: SlackApiStandIn, tmp_path: Path
) -> None:
    services = {"ecap-api": {"namespace": "prod", "deployment": "ecap-api"}}
    env = serve_env(tmp_path, api, redis.url, services, SLACK_BOT_TOKEN="xoxb-revoked")
    bot = await start_bot(env, api)
    try:
        assert await bot.get("/readyz") == (503, "slack auth failed: invalid_auth")
        assert await bot.get("/healthz") == (200, "ok")
        await stop(bot)
    finally:
        await bot.close()


async def stop(bot: RunningBot) -> None:
    bot.process.send_signal(signal.SIGTERM)
    returncode, stderr = await bot.exit_code()
    assert returncode == 0, stderr
