"""A proxy in front of the Slack Web API stand-in that answers chosen calls with faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

import aiohttp
from aiohttp import web

Fault = Literal["500", "html", "drop"]
HTML_ERROR = "<html><body><h1>502 Bad Gateway</h1></body></html>"


@dataclass
class SlackFaults:
    """Forwards every Web API call to `upstream` unless a fault is queued for its method."""

    upstream: str
    injected: list[tuple[str, Fault]] = field(default_factory=list)
    _queued: dict[str, list[Fault]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None
    port: int = 0

    @property
    def url(self) -> str:
        """The Web API base URL to give the bot (SLACK_API_URL)."""
        return f"http://127.0.0.1:{self.port}/api/"

    def fail(self, method: str, *faults: Fault) -> None:
        """The next calls of `method` get these faults, one each, in order."""
        self._queued.setdefault(method, []).extend(faults)

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        queued = self._queued.get(method)
        if queued:
            fault = queued.pop(0)
            self.injected.append((method, fault))
            if fault == "500":
                return web.json_response({"ok": False, "error": "fatal_error"}, status=500)
            if fault == "html":
                return web.Response(status=502, text=HTML_ERROR, content_type="text/html")
            # A connection dropped before any answer, as a proxy restart would.
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=500)
        assert self._session is not None
        async with self._session.request(
            request.method,
            self.upstream + method,
            params=request.query,
            data=await request.read(),
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
        ) as answer:
            return web.Response(
                status=answer.status,
                body=await answer.read(),
                headers={
                    k: v
                    for k, v in answer.headers.items()
                    if k.lower() in ("content-type", "retry-after")
                },
            )

    async def __aenter__(self) -> SlackFaults:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()
