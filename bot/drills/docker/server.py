"""The HTTP front of the sandbox engine: requests to the API, exec output over a hijack."""

from __future__ import annotations

import socket
import time
from urllib.parse import parse_qsl, urlsplit

from bot.drills.docker.api import API_VERSION, ENGINE_VERSION, Api, Response
from bot.drills.exchange import Request
from bot.drills.lifecycle import HttpFront, QuietHandler

# A real exec's process takes a moment to start after the 101; the client reads the upgrade
# response through a buffer, so output sent in the same packet would be lost to it.
_PROCESS_START_S = 0.1


class EngineServer(HttpFront):
    """The HTTP front carrying the engine API."""

    def __init__(self, address: tuple[str, int], api: Api) -> None:
        super().__init__(address, _Handler)
        self.api = api


class _Handler(QuietHandler):
    server_version = f"Docker/{ENGINE_VERSION}"
    sys_version = "(linux)"
    server: EngineServer

    def _head(self, response: Response) -> None:
        self.send_header("Api-Version", API_VERSION)
        self.send_header("Ostype", "linux")
        if response.body is not None:
            self.send_header("Content-Type", response.content_type)

    def _send(self, response: Response) -> None:
        body = response.encoded()
        self.send_response(response.code)
        self._head(response)
        if response.code not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and response.code not in (204, 304):
            self.wfile.write(body)

    def _hijack(self, response: Response) -> None:
        """Docker's exec attach: 101 (or 200), then the raw framed stream until close."""
        upgrade = self.headers.get("Upgrade", "").lower() == "tcp"
        if upgrade:
            self.send_response(101, "UPGRADED")
            self.send_header("Connection", "Upgrade")
            self.send_header("Upgrade", "tcp")
        else:
            self.send_response(200)
        self._head(response)
        self.end_headers()
        self.wfile.flush()
        time.sleep(_PROCESS_START_S)
        self.wfile.write(response.encoded())
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_WR)

    def _handle(self) -> None:
        body = self.read_body()
        url = urlsplit(self.path)
        request = Request(self.command, url.path, dict(parse_qsl(url.query)), body)
        response = self.server.api.handle(request)
        if response.hijack and response.code == 200:
            self._hijack(response)
        else:
            self._send(response)

    do_GET = do_POST = do_DELETE = do_PUT = do_HEAD = _handle
