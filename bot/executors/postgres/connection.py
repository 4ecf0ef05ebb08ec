"""One asyncpg connection per action, opened and closed within the action's deadline."""

from __future__ import annotations

import asyncio
import errno
import importlib
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

from bot.executors.common import causes, one_line
from bot.executors.params import url_for_display
from bot.redact import redact, register_secret

MISSING_EXTRA = "Postgres checks need the postgres extra: pip install 'runbook-bot[postgres]'"
# Shown in pg_stat_activity, so a DBA can tell the bot's own connection from the app's.
APPLICATION_NAME = "runbook-bot"
_CLOSE_TIMEOUT_S = 2.0


class PgFailure(Exception):
    """An action could not run; str() is the one-line reason.

    `unreachable` marks the failures that answer "is it up?" (refused, timed out, not
    resolving, not accepting connections) rather than a failure to ask.
    """

    def __init__(self, reason: str, *, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.unreachable = unreachable


def shown(url: str) -> str:
    """`host:port/db` as summaries name a server: the URL without scheme and credentials."""
    return url_for_display(url).partition("://")[2] or url_for_display(url)


def load_asyncpg() -> Any:
    """asyncpg, imported only when a Postgres action runs: the extra is optional."""
    try:
        return importlib.import_module("asyncpg")
    except ImportError:
        raise PgFailure(MISSING_EXTRA) from None


@asynccontextmanager
async def session(url: str, timeout_s: float) -> AsyncIterator[Any]:
    """A fresh connection for one action; the whole action must finish within timeout_s."""
    asyncpg = load_asyncpg()
    password = urlsplit(url).password
    register_secret(password)
    register_secret(unquote(password) if password else None)
    connection: Any = None
    try:
        async with asyncio.timeout(timeout_s):
            connection = await asyncpg.connect(
                url,
                timeout=timeout_s,
                # The server stops our query too if we give up on it.
                server_settings={
                    "application_name": APPLICATION_NAME,
                    "statement_timeout": str(max(1, round(timeout_s * 1000))),
                },
            )
            yield connection
    except PgFailure:
        raise
    except TimeoutError:
        raise PgFailure(f"timed out after {timeout_s:g}s", unreachable=True) from None
    except Exception as exc:
        raise failure(exc, asyncpg) from None
    finally:
        if connection is not None:
            await _close(connection)


async def _close(connection: Any) -> None:
    try:
        await connection.close(timeout=_CLOSE_TIMEOUT_S)
    except Exception:
        # A connection that will not close politely is dropped; the server notices the EOF.
        connection.terminate()


def failure(exc: BaseException, asyncpg: Any) -> PgFailure:
    """The one-line reason for what asyncpg or the network raised."""
    if isinstance(
        exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
    ):
        return PgFailure("authentication failed")
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return PgFailure(_one_line(exc))
    # "too many clients", "the database system is starting up / shutting down".
    if isinstance(exc, asyncpg.TooManyConnectionsError | asyncpg.CannotConnectNowError):
        return PgFailure(_one_line(exc), unreachable=True)
    for cause in causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return PgFailure("connection refused", unreachable=True)
        if isinstance(cause, socket.gaierror):
            return PgFailure("host name does not resolve", unreachable=True)
        if isinstance(cause, OSError) and cause.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return PgFailure("host unreachable", unreachable=True)
        if isinstance(cause, ConnectionResetError | asyncpg.ConnectionDoesNotExistError):
            return PgFailure("connection closed by the server", unreachable=True)
    return PgFailure(_one_line(exc))


def _one_line(exc: BaseException) -> str:
    return redact(one_line(exc))
