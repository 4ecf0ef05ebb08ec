"""Work under way for Slack and Alertmanager requests, so a shutdown can let it finish.

Bolt runs the listener in a task of its own (`asyncio.ensure_future`) that nothing keeps and
answers once it acks; the listener works on after its ack, and starts more tasks (headline
edits, integration syncs, alert rooms).
A task factory tags every task created while a request is handled, and every task those
create, because each task inherits the context it was created in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from contextvars import ContextVar
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

log = logging.getLogger(__name__)

# Kubernetes sends SIGKILL 30 s after SIGTERM by default; the rest of the shutdown needs a few.
SHUTDOWN_GRACE_S = 25.0
# Cancelled work gets this long to run its `finally` blocks (releasing claims).
_CANCEL_WAIT_S = 5.0

_HANDLING: ContextVar[InFlight | None] = ContextVar("runbook_bot_in_flight", default=None)


class InFlight:
    """Requests being handled and the tasks they started; `drain` waits for both."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._requests = 0
        # Set on every change; waiters look again at what they wait for.
        self._changed = asyncio.Event()
        self._draining = False
        self._before_tasks: list[Callable[[], Awaitable[None]]] = []

    @property
    def draining(self) -> bool:
        """True once shutdown began: new requests are refused."""
        return self._draining

    @asynccontextmanager
    async def tracking(self) -> AsyncIterator[None]:
        """Tags tasks created during requests on the running loop, until the block ends."""
        loop = asyncio.get_running_loop()
        previous = loop.get_task_factory()

        def factory(
            loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
        ) -> asyncio.Future[Any]:
            if previous is not None:
                task = previous(loop, coro, **kwargs)
            else:
                task = asyncio.Task(coro, loop=loop, **kwargs)
            if _HANDLING.get() is self and isinstance(task, asyncio.Task):
                self._add(task)
            return task

        loop.set_task_factory(factory)  # type: ignore[arg-type]
        try:
            yield
        finally:
            loop.set_task_factory(previous)

    @contextmanager
    def request(self) -> Iterator[None]:
        """Counts the block as one request; tasks it creates are tracked."""
        self._requests += 1
        token = _HANDLING.set(self)
        try:
            yield
        finally:
            _HANDLING.reset(token)
            self._requests -= 1
            self._settle()

    def before_tasks(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run `step` during a drain once no request is being handled, before waiting for
        the tasks (Socket Mode disconnects there, so Slack sends new events elsewhere)."""
        self._before_tasks.append(step)

    async def drain(self, timeout: float = SHUTDOWN_GRACE_S) -> int:
        """Refuse new requests, wait up to `timeout` for those under way and their tasks,
        cancel what is left; returns how many were cut short."""
        self._draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await self._until(lambda: not self._requests, deadline)
        for step in self._before_tasks:
            try:
                await asyncio.wait_for(step(), max(deadline - loop.time(), 0.1))
            except Exception as exc:
                log.warning("shutdown step failed: %s: %s", type(exc).__name__, exc)
        await self._until(lambda: not self._tasks and not self._requests, deadline)
        left = list(self._tasks)
        if left:
            log.warning(
                "shutdown: %d task(s) still running after %.0f s; cancelling", len(left), timeout
            )
            for task in left:
                task.cancel()
            await asyncio.wait(left, timeout=_CANCEL_WAIT_S)
        return len(left)

    async def _until(self, done: Callable[[], bool], deadline: float) -> None:
        loop = asyncio.get_running_loop()
        while not done() and loop.time() < deadline:
            self._changed.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), deadline - loop.time())

    def _add(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._settle()

    def _settle(self) -> None:
        self._changed.set()


def refuse_while_draining(inflight: InFlight) -> Middleware:
    """aiohttp middleware: POSTs count as requests in flight, and get 503 once draining.

    Slack retries an event answered 503 and Alertmanager a notification, both reaching a
    replica still serving; health checks go on being answered meanwhile.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "POST":
            return await handler(request)
        if inflight.draining:
            return web.Response(status=503, text="shutting down", headers={"Retry-After": "1"})
        with inflight.request():
            return await handler(request)

    return middleware
