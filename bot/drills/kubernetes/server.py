"""The HTTP front: bearer auth, latency, health endpoints, then the API handler."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import struct
import time
from urllib.parse import parse_qsl, urlsplit

from bot.drills.kubernetes.api import Api, Request, Response
from bot.drills.kubernetes.exec import ExecResult
from bot.drills.kubernetes.objects import status_error
from bot.drills.kubernetes.traffic import Traffic
from bot.drills.kubernetes.websocket import (
    CLOSE,
    ERROR,
    STDERR,
    STDOUT,
    accept_key,
    channel_frame,
    chosen_protocol,
    close_frame,
    read_frame,
)
from bot.drills.lifecycle import HttpFront, QuietHandler

METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# The first byte of a TLS handshake record; plain HTTP starts with a method's letter.
_TLS_HANDSHAKE = 0x16
_HANDSHAKE_TIMEOUT_S = 10.0


class SandboxServer(HttpFront):
    """The HTTP front carrying the API, the token and the injected latency.

    One port speaks both TLS (the API as kubectl and the kubeconfig reach it) and plain HTTP
    (the sandbox's own health and metrics pages, which the bot's HTTP checks read).
    """

    def __init__(self, address: tuple[str, int], api: Api, token: str, tls: ssl.SSLContext) -> None:
        super().__init__(address, _Handler)
        self.api = api
        self.token = token
        self.tls = tls
        self.latency = 0.0
        self._traffic: dict[str, Traffic] = {}
        # Set to a list to record each authenticated API request as (method, path?query).
        self.requests: list[tuple[str, str]] | None = None

    @property
    def api_url(self) -> str:
        host, port = self.server_address[:2]
        return f"https://{host!s}:{port}"

    def finish_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        """Serve the connection, over TLS when the client opens with a handshake."""
        request.settimeout(_HANDSHAKE_TIMEOUT_S)
        try:
            first = request.recv(1, socket.MSG_PEEK)
        except OSError:
            return
        if not first or first[0] != _TLS_HANDSHAKE:
            request.settimeout(None)
            super().finish_request(request, client_address)
            return
        try:
            secured = self.tls.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        secured.settimeout(None)
        try:
            super().finish_request(secured, client_address)
        finally:
            self.shutdown_request(secured)

    def health(self, path: str) -> Response | None:
        """Answer the sandbox's own pages (health, ready, live, lb, metrics); None if not one."""
        parts = [p for p in path.split("/") if p]
        cluster = self.api.cluster
        with cluster.locked():
            service = cluster.scenario.service.name
            if len(parts) == 3 and parts[:2] == ["_sandbox", "metrics"] and parts[2] == service:
                return Response(200, self._metrics(parts[2]), METRICS_TYPE)
            probe = parts[3] if len(parts) == 4 else "ready"
            if len(parts) in (3, 4) and parts[:2] == ["_sandbox", "health"] and probe == "live":
                # Alive: some container of the service runs, even if it is not ready.
                pods = cluster.selected(cluster.scenario.service.namespace, {"app": parts[2]})
                alive = any(cluster.pod_state(p).phase in ("ready", "unready") for p in pods)
                return Response(200 if alive else 503, {"status": "alive" if alive else "down"})
            if len(parts) in (3, 4) and parts[:2] == ["_sandbox", "health"] and probe == "ready":
                healthy, deps = cluster.service_health(parts[2])
                body = {"status": "healthy" if healthy else "unhealthy", "dependencies": deps}
                return Response(200 if healthy else 503, body)
            if len(parts) == 5 and parts[1] == "frontend" and parts[3:] == ["api", "health"]:
                return self._through_frontend(parts[2])
            if len(parts) == 4 and parts[1] == "lb" and parts[3] == "health":
                up = cluster.ready_endpoints(parts[2]) > 0
                return Response(
                    200 if up else 503, {"status": "up" if up else "no healthy upstream"}
                )
        return None

    def _through_frontend(self, name: str) -> Response | None:
        """The service's health as users reach it: through its frontend, if that one runs."""
        cluster = self.api.cluster
        frontend = cluster.scenario.dependencies.get(name)
        if frontend is None or not frontend.frontend:
            return None
        if not cluster.dependency_up(name):
            return Response(503, {"status": "frontend unavailable"})
        healthy, deps = cluster.service_health(cluster.scenario.service.name)
        body = {"status": "healthy" if healthy else "unhealthy", "dependencies": deps}
        return Response(200 if healthy else 503, body)

    def _metrics(self, service: str) -> str:
        cluster = self.api.cluster
        deps = cluster.scenario.dependencies
        upstreams = sorted(n for n, d in deps.items() if d.listener != "redis")
        traffic = self._traffic.setdefault(service, Traffic(cluster.clock(), upstreams))
        down = [n for n in upstreams if not cluster.dependency_up(n)]
        spec = cluster.scenario.service
        serving = [
            p
            for p in cluster.selected(spec.namespace, {"app": service})
            if cluster.pod_state(p).phase == "ready"
        ]
        faulty = sum(1 for p in serving if cluster.faulty(p)) / max(1, len(serving))
        answers = spec.fault.answers if spec.fault else "5xx"
        healthy = cluster.service_health(service)[0]
        traffic.advance(cluster.clock(), healthy, down, faulty, answers, cluster.load_factor())
        return traffic.exposition(service)


class _Handler(QuietHandler):
    server: SandboxServer

    def _send(self, response: Response) -> None:
        body = response.encoded()
        self.send_response(response.code)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        body = self.read_body()
        url = urlsplit(self.path)
        if url.path.startswith("/_sandbox/"):
            health = self.server.health(url.path)
            self._send(health or Response(404, status_error(404, "NotFound", "no such page")))
            return
        if self.headers.get("Authorization") != f"Bearer {self.server.token}":
            self._send(Response(401, status_error(401, "Unauthorized", "Unauthorized")))
            return
        if self.server.requests is not None:
            self.server.requests.append((self.command, self.path))
        if self.server.latency > 0:
            time.sleep(self.server.latency)
        pairs = parse_qsl(url.query)
        request = Request(
            method=self.command,
            path=url.path,
            query=dict(pairs),
            body=body,
            content_type=self.headers.get("Content-Type", ""),
            accept=self.headers.get("Accept", ""),
            host=self.headers.get("Host", ""),
            pairs=pairs,
        )
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self._upgrade(request)
            return
        try:
            self._send(self.server.api.handle(request))
        except json.JSONDecodeError as exc:
            self._send(Response(400, status_error(400, "BadRequest", f"invalid JSON: {exc}")))

    def _upgrade(self, request: Request) -> None:
        """An exec: the handshake, the command's output on its channels, then close."""
        self.close_connection = True
        key = self.headers.get("Sec-WebSocket-Key")
        if not key:
            message = "websocket upgrade without a Sec-WebSocket-Key"
            self._send(Response(400, status_error(400, "BadRequest", message)))
            return
        response = self.server.api.handle(request)
        if not isinstance(response.body, ExecResult):
            self._send(response)
            return
        result = response.body
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept_key(key))
        protocol = chosen_protocol(self.headers.get("Sec-WebSocket-Protocol", ""))
        if protocol:
            self.send_header("Sec-WebSocket-Protocol", protocol)
        self.end_headers()
        frames = [
            channel_frame(channel, text.encode())
            for channel, text in ((STDOUT, result.stdout), (STDERR, result.stderr))
            if text
        ]
        frames += [channel_frame(ERROR, json.dumps(result.status()).encode()), close_frame()]
        self.wfile.write(b"".join(frames))
        self.wfile.flush()
        # Wait for the client's close so it is not cut off mid-handshake; never for long.
        self.connection.settimeout(5.0)
        with contextlib.suppress(OSError, struct.error):
            while (got := read_frame(self.rfile)) is not None and got[0] != CLOSE:
                pass

    do_GET = do_PATCH = do_DELETE = do_POST = do_PUT = do_HEAD = _handle
