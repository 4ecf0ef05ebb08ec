"""A local stand-in for Slack's Socket Mode websocket: sends envelopes, records the app's acks.

`async with SlackSocketStandIn(api) as socket:` makes `apps.connections.open` on the Web API
stand-in `api` answer with this server's ws:// URL, as Slack answers with its wss:// one.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

from aiohttp import WSMsgType, web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp

from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_signing import slash_command_payload
from tests.support.slack_workspace import APP_ID


class SlackSocketStandIn:
    """A websocket server on 127.0.0.1:<free port> speaking Slack's Socket Mode envelopes."""

    def __init__(self, api: SlackApiStandIn) -> None:
        self.api = api
        self.acks: list[dict[str, Any]] = []
        self.connections_opened = 0
        self._sockets: list[web.WebSocketResponse] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        """Listens on a free port and registers the URL with the Web API stand-in."""
        app = web.Application()
        app.router.add_get("/link/", self._link)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])
        self.api.socket_url = f"ws://127.0.0.1:{self.port}/link/?ticket={uuid.uuid4()}"

    async def stop(self) -> None:
        """Closes every connection (as Slack does on shutdown) and the server."""
        self.api.socket_url = None
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SlackSocketStandIn:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def wait_connected(self, count: int = 1, timeout: float = 10.0) -> None:
        """Waits until `count` connections have been opened in all (hello sent on each)."""
        await self._wait(
            lambda: self.connections_opened >= count and bool(self._sockets),
            timeout,
            f"{count} socket mode connection(s)",
        )

    async def send_envelope(
        self, type_: str, payload: dict[str, Any], *, accepts_response_payload: bool = False
    ) -> str:
        """Sends one envelope on the newest connection; returns its envelope_id."""
        if not self._sockets:
            raise AssertionError("no socket mode client is connected")
        envelope_id = str(uuid.uuid4())
        await self._sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": type_,
                "payload": payload,
                "accepts_response_payload": accepts_response_payload,
            }
        )
        return envelope_id

    async def send_slash_command(
        self,
        *,
        command: str = "/incident",
        text: str = "",
        user_id: str = "U0ALICE",
        channel_id: str = "C0GENERAL",
        trigger_id: str | None = None,
    ) -> str:
        """Sends a `slash_commands` envelope whose response_url points at the Web API stand-in."""
        payload = slash_command_payload(
            response_url=self.api.response_url(channel_id),
            command=command,
            text=text,
            user_id=user_id,
            channel_id=channel_id,
            trigger_id=trigger_id,
        )
        return await self.send_envelope("slash_commands", payload, accepts_response_payload=True)

    async def send_interactive(self, payload: dict[str, Any]) -> str:
        """Sends an `interactive` envelope (block_actions, view_submission, ...)."""
        # Slack lets only these be answered through the ack itself.
        accepts = payload.get("type") in ("view_submission", "block_suggestion")
        return await self.send_envelope("interactive", payload, accepts_response_payload=accepts)

    async def send_event(self, payload: dict[str, Any]) -> str:
        """Sends an `events_api` envelope holding an `event_callback` payload."""
        return await self.send_envelope("events_api", payload)

    async def request_disconnect(self, reason: str = "refresh_requested") -> None:
        """Tells the client to reconnect, as Slack does every few hours."""
        if self._sockets:
            await self._sockets[-1].send_json(
                {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-local"}}
            )

    async def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The client's ack of this envelope (with its `payload`, if any)."""

        def find() -> dict[str, Any] | None:
            return next((a for a in self.acks if a.get("envelope_id") == envelope_id), None)

        await self._wait(lambda: find() is not None, timeout, f"an ack of {envelope_id}")
        ack = find()
        assert ack is not None
        return ack

    async def _wait(self, ready: Any, timeout: float, what: str) -> None:
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(ready), timeout)
            except TimeoutError:
                raise AssertionError(f"no {what} within {timeout}s") from None

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()  # autoping answers the SDK's "sdk-ping-pong" pings
        await ws.prepare(request)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets) + 1,
                "debug_info": {
                    "host": "applink-local",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": APP_ID},
            }
        )
        self._sockets.append(ws)
        self.connections_opened += 1
        await self._notify()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self.acks.append(json.loads(message.data))
                    await self._notify()
        finally:
            self._sockets.remove(ws)
            await self._notify()
        return ws


@asynccontextmanager
async def connected_handler(
    app: AsyncApp, socket: SlackSocketStandIn
) -> AsyncIterator[AsyncSocketModeHandler]:
    """Bolt's default (aiohttp) Socket Mode handler for `app`, connected to `socket`."""
    handler = AsyncSocketModeHandler(app, app_token=socket.api.app_token)
    opened_before = socket.connections_opened
    try:
        await handler.connect_async()  # type: ignore[no-untyped-call]
        await socket.wait_connected(count=opened_before + 1)
        yield handler
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
