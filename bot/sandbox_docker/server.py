"""The HTTP front of the sandbox engine: requests to the API, exec output over a hijack."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from bot.sandbox_docker.api import API_VERSION, ENGINE_VERSION, Api, Request, Response

# A real exec's process takes a moment to start after the 101; the client reads the upgrade
# response through a buffer, so output sent in the same packet would be lost to it.
_PROCESS_START_S = 0.1


class EngineServer(ThreadingHTTPServer):
    """A threading HTTP server carrying the engine API."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: Api) -> None:
        super().__init__(address, _Handler)
        self.api = api
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = f"Docker/{ENGINE_VERSION}"
    sys_version = "(linux)"
    server: EngineServer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the drill's terminal belongs to the bot."""

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
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        request = Request(self.command, url.path, dict(parse_qsl(url.query)), body)
        response = self.server.api.handle(request)
        if response.hijack and response.code == 200:
            self._hijack(response)
        else:
            self._send(response)

    do_GET = do_POST = do_DELETE = do_PUT = do_HEAD = _handle
