"""One Redis command over a fresh connection, and its failures as one line."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.executors.common import causes, elapsed_ms, one_line
from bot.redact import register_secret


class Unreachable(Exception):
    """The server could not be reached or did not answer in time; str() is the reason."""


async def call(
    url: str, timeout_s: float, command: Callable[[Redis], Awaitable[Any]]
) -> tuple[Any, int]:
    """Run one command over a fresh connection; returns its reply and latency in ms."""
    register_secret(urlsplit(url).password)
    client = Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        # One attempt: the timeout bounds the whole check, and a retry would only hide a flap.
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
    )
    try:
        started = time.perf_counter()
        async with asyncio.timeout(timeout_s):
            reply = await command(client)
        return reply, elapsed_ms(started)
    except (TimeoutError, RedisTimeoutError):
        raise Unreachable(f"timed out after {timeout_s:g}s") from None
    except RedisConnectionError as exc:
        if isinstance(exc, AuthenticationError):
            raise
        raise Unreachable(_connection_reason(exc)) from None
    finally:
        await client.aclose()


def reason(exc: Exception) -> str:
    """Why a command failed, in one line; a refused password says only that."""
    if isinstance(exc, AuthenticationError) or (
        isinstance(exc, ResponseError) and str(exc).startswith(("NOAUTH", "WRONGPASS"))
    ):
        return "authentication failed"
    return one_line(exc)


def _connection_reason(exc: BaseException) -> str:
    """Name the root cause redis-py wraps, without its errno prefix."""
    for cause in causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "host name does not resolve"
    return one_line(exc)
