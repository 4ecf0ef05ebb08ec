"""What a stand-in's port speaks: HTTP health, RESP, the Postgres protocol, or bare TCP."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

from bot.drills.wire.listener import Listener, serve_tcp
from bot.drills.wire.pgwire import serve_postgres
from bot.drills.wire.resp import serve_redis

# (HTTP status, JSON body) for a request path.
Answer = Callable[[str], tuple[int, dict[str, object]]]
_REASONS = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}


def http_handler(answer: Answer) -> Callable[[socket.socket], None]:
    """A one-request-per-connection HTTP/1.1 server for the app's health endpoint."""

    def serve(conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as reader:
            request_line = reader.readline().decode("latin-1").split()
            while reader.readline() not in (b"\r\n", b"\n", b""):
                pass
            path = request_line[1] if len(request_line) > 1 else "/"
            code, body = answer(path.split("?")[0])
            data = json.dumps(body).encode()
            head = (
                f"HTTP/1.1 {code} {_REASONS.get(code, 'Error')}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
            )
            conn.sendall(head.encode() + data)

    return serve


def listener_for(kind: str, answer: Answer | None = None) -> Listener:
    """A port for `kind`: `health` answers HTTP with `answer`; anything unknown holds TCP."""
    if kind == "health" and answer is not None:
        return Listener(http_handler(answer))
    handlers = {"postgres": serve_postgres, "redis": serve_redis}
    return Listener(handlers.get(kind, serve_tcp))
