"""The HTTP front: bearer auth, latency, health endpoints, then the API handler."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from bot.sandbox.api import Api, Request, Response
from bot.sandbox.objects import status_error


class SandboxServer(ThreadingHTTPServer):
    """A threading HTTP server carrying the API, the token and the injected latency."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: Api, token: str) -> None:
        super().__init__(address, _Handler)
        self.api = api
        self.token = token
        self.latency = 0.0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join()

    def health(self, path: str) -> Response | None:
        """Answer /_sandbox/health/{svc} and /_sandbox/lb/{svc}/health; None if not one."""
        parts = [p for p in path.split("/") if p]
        cluster = self.api.cluster
        with cluster.locked():
            if len(parts) == 3 and parts[:2] == ["_sandbox", "health"]:
                healthy, deps = cluster.service_health(parts[2])
                body = {"status": "healthy" if healthy else "unhealthy", "dependencies": deps}
                return Response(200 if healthy else 503, body)
            if len(parts) == 4 and parts[1] == "lb" and parts[3] == "health":
                up = cluster.ready_endpoints(parts[2]) > 0
                return Response(
                    200 if up else 503, {"status": "up" if up else "no healthy upstream"}
                )
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SandboxServer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the drill's terminal belongs to the bot."""

    def _send(self, response: Response) -> None:
        body = response.encoded()
        self.send_response(response.code)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        if url.path.startswith("/_sandbox/"):
            health = self.server.health(url.path)
            self._send(health or Response(404, status_error(404, "NotFound", "no such page")))
            return
        if self.headers.get("Authorization") != f"Bearer {self.server.token}":
            self._send(Response(401, status_error(401, "Unauthorized", "Unauthorized")))
            return
        if self.server.latency > 0:
            time.sleep(self.server.latency)
        request = Request(
            method=self.command,
            path=url.path,
            query=dict(parse_qsl(url.query)),
            body=body,
            content_type=self.headers.get("Content-Type", ""),
        )
        try:
            self._send(self.server.api.handle(request))
        except json.JSONDecodeError as exc:
            self._send(Response(400, status_error(400, "BadRequest", f"invalid JSON: {exc}")))

    do_GET = do_PATCH = do_DELETE = do_POST = do_PUT = do_HEAD = _handle
