"""The Docker engine client: created on first use, every call in a thread with a deadline."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import docker
import requests
from docker.errors import APIError, DockerException, NotFound

from bot.errors import BotError
from bot.redact import redact

T = TypeVar("T")
Obj = dict[str, Any]

# A stage runs ~10 checks at once; the default asyncio pool has only cpu+4 threads.
WORKERS = 16
DEFAULT_HOST = "unix:///var/run/docker.sock"


class DockerError(BotError):
    """A call that failed; str() is the one-line reason. `missing`: the object does not exist."""

    def __init__(self, reason: str, *, missing: bool = False) -> None:
        super().__init__(redact(" ".join(reason.split())))
        self.missing = missing


class DockerClient:
    """One engine connection. Calls run in a pool; failures raise DockerError."""

    def __init__(self, base_url: str | None, timeout: float) -> None:
        self.timeout = timeout
        self._base_url = base_url
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="docker")
        self._lock = threading.Lock()
        self._client: docker.DockerClient | None = None

    @property
    def where(self) -> str:
        """The engine's address as it may be shown; DOCKER_HOST is read when first used."""
        return redact(self._base_url or os.environ.get("DOCKER_HOST") or DEFAULT_HOST)

    def _connect(self) -> docker.DockerClient:
        # A failed connection is not kept: the engine may be up by the next call.
        with self._lock:
            if self._client is None:
                timeout = max(1, round(self.timeout))
                if self._base_url:
                    self._client = docker.DockerClient(
                        base_url=self._base_url, timeout=timeout, max_pool_size=WORKERS
                    )
                else:
                    self._client = docker.from_env(timeout=timeout, max_pool_size=WORKERS)
            return self._client

    async def call(
        self, work: Callable[[docker.DockerClient], T], *, what: str, slack: float = 0
    ) -> T:
        """Run `work(client)` in the pool; `what` names the object, `slack` extends the deadline."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, lambda: work(self._connect()))
        try:
            # The socket timeout bounds each request; this bounds the whole call.
            return await asyncio.wait_for(future, self.timeout * 2 + slack + 1)
        except TimeoutError:
            raise DockerError(f"{what}: timed out after {self.timeout:g}s") from None
        except DockerError:
            raise
        except Exception as exc:
            raise self.failure(exc, what) from None

    def in_thread(self, work: Callable[[], T]) -> asyncio.Future[T]:
        """Run a blocking step (reading a stream) in the pool, bounded by the caller."""
        return asyncio.get_running_loop().run_in_executor(self._pool, work)

    def failure(self, exc: BaseException, what: str) -> DockerError:
        """Map what the SDK raises to a one-line reason."""
        if isinstance(exc, NotFound):
            return DockerError(f"{what}: not found ({_explanation(exc)})", missing=True)
        if isinstance(exc, APIError):
            status = exc.status_code or "error"
            return DockerError(f"{what}: {_explanation(exc)} ({status})")
        if isinstance(exc, requests.exceptions.Timeout):
            return DockerError(f"{what}: timed out after {self.timeout:g}s")
        if isinstance(exc, requests.exceptions.ConnectionError | DockerException | OSError):
            return DockerError(f"Docker engine unreachable at {self.where}: {_connection(exc)}")
        return DockerError(f"{what}: {type(exc).__name__}: {_first_line(exc)}")

    async def close(self) -> None:
        """Stop the worker threads and drop pooled connections."""
        await asyncio.to_thread(self._pool.shutdown, True, cancel_futures=True)
        if self._client is not None:
            self._client.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _explanation(exc: APIError) -> str:
    explanation = exc.explanation
    if isinstance(explanation, bytes):
        explanation = explanation.decode("utf-8", errors="replace")
    if explanation:
        return _first_line(Exception(explanation))
    response = exc.response
    return str(response.reason) if response is not None and response.reason else _first_line(exc)


def _connection(exc: BaseException) -> str:
    """The root cause the SDK wraps, in a few words."""
    text = str(exc).lower()
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, FileNotFoundError):
            return "no such socket"
        if isinstance(seen, PermissionError):
            return "permission denied"
        seen = seen.__cause__ or seen.__context__
    if "refused" in text:
        return "connection refused"
    if "no such file" in text or "filenotfounderror" in text:
        return "no such socket"
    if "permission denied" in text:
        return "permission denied"
    if "timed out" in text or "timeout" in text:
        return "timed out"
    if "name or service not known" in text or "nodename nor servname" in text:
        return "name does not resolve"
    return _first_line(exc)
