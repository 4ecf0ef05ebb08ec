"""RedisExecutor: the Executor protocol over redis.asyncio."""

from __future__ import annotations

from redis.exceptions import RedisError

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Preview, ReadAction, WriteAction
from bot.executors.redis.checks import config_get, info, ping
from bot.executors.redis.connection import Unreachable, failed
from bot.executors.redis.fixes import (
    bgsave,
    command_shown,
    flushdb,
    preview_bgsave,
    preview_flushdb,
)
from bot.executors.redis.params import RedisBgsave, RedisConfig, RedisFlushDb, RedisInfo, RedisPing


class RedisExecutor:
    """Runs Redis checks and fixes, each over a fresh connection closed right after."""

    async def check(self, action: ReadAction, target: ServiceBinding) -> CheckResult:
        if isinstance(action, RedisPing):
            return await ping(action)
        if isinstance(action, RedisInfo):
            return await info(action)
        if isinstance(action, RedisConfig):
            return await config_get(action)
        return CheckResult(status="error", summary=f"{action.type}: not a Redis check")

    async def preview(self, action: WriteAction, target: ServiceBinding) -> Preview:
        if isinstance(action, RedisFlushDb):
            planned = preview_flushdb(action)
        elif isinstance(action, RedisBgsave):
            planned = preview_bgsave(action)
        else:
            reason = f"{action.type}: not a Redis fix"
            return Preview(summary=reason, error=reason)
        try:
            return await planned
        except (Unreachable, RedisError) as exc:
            reason = failed(command_shown(action), exc).summary
            return Preview(summary=f"cannot preview {action.type}: {reason}", error=reason)

    async def apply(self, action: WriteAction, target: ServiceBinding) -> CheckResult:
        if isinstance(action, RedisFlushDb):
            applied = flushdb(action)
        elif isinstance(action, RedisBgsave):
            applied = bgsave(action)
        else:
            return CheckResult(status="error", summary=f"{action.type}: not a Redis fix")
        try:
            return await applied
        except (Unreachable, RedisError) as exc:
            return failed(command_shown(action), exc)
