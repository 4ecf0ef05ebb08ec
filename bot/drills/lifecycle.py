"""The life of a stand-in: its threaded HTTP front and watcher started, stopped, or served."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

from bot.drills.wire.listener import Watcher


class HttpFront(ThreadingHTTPServer):
    """A threading HTTP server that serves from its own thread between `start` and `stop`."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: Callable[..., BaseHTTPRequestHandler]
    ) -> None:
        super().__init__(address, handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join()


class QuietHandler(BaseHTTPRequestHandler):
    """A keep-alive request handler that logs nothing and reads the request's body."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the drill's terminal belongs to the bot."""

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""


class StandIn:
    """A running stand-in server and the watcher of its ports; stop with `stop()` or `with`."""

    def __init__(self, server: HttpFront, watcher: Watcher) -> None:
        self._server = server
        self._watcher = watcher
        self.url = server.url

    def stop(self) -> None:
        self._server.stop()
        self._watcher.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_until_interrupted(stand_in: StandIn, lines: Iterable[str]) -> int:
    """Print how to reach the stand-in, then keep it up until SIGINT or SIGTERM; it stops."""
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    with stand_in:
        for line in lines:
            print(line, flush=True)
        done.wait()
    return 0
