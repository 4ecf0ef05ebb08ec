"""Ports that listen only while what they stand for is up, and the watcher that keeps them so."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable


def serve_tcp(conn: socket.socket) -> None:
    """Accept the connection and hold it until the client hangs up."""
    with conn:
        while conn.recv(4096):
            pass


class Listener:
    """A port on 127.0.0.1 that listens only while its dependency is up; the port is kept.

    While down, the port stays bound without listening: connections are refused, as from a
    stopped database, and no other process can take the port in the meantime.
    """

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.handler = handler
        self._reserved: socket.socket | None = _bound(0)
        self.port: int = self._reserved.getsockname()[1]
        self._sock: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def open(self) -> bool:
        return self._sock is not None

    def set_open(self, wanted: bool) -> None:
        with self._lock:
            if wanted and self._sock is None:
                sock = self._reserved or _bound(self.port)
                self._reserved = None
                sock.listen(16)
                sock.settimeout(0.2)
                self._sock = sock
                threading.Thread(target=self._accept, args=(sock,), daemon=True).start()
            elif not wanted and self._sock is not None:
                # shutdown stops the listen at once; close alone waits for a blocked accept
                with contextlib.suppress(OSError):
                    self._sock.shutdown(socket.SHUT_RDWR)
                self._sock.close()
                self._sock = None
                for conn in list(self._conns):
                    with contextlib.suppress(OSError):
                        conn.shutdown(socket.SHUT_RDWR)
                self._reserved = _bound(self.port)

    def close(self) -> None:
        """Stop listening and give the port back."""
        self.set_open(False)
        with self._lock:
            if self._reserved is not None:
                self._reserved.close()
                self._reserved = None

    def _accept(self, sock: socket.socket) -> None:
        while self._sock is sock:
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.handler(conn)
        self._conns.discard(conn)


def _bound(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


class Watcher:
    """Keeps each listener open exactly while its owner is up, by polling `is_up(name)`."""

    def __init__(
        self, listeners: dict[str, Listener], is_up: Callable[[str], bool], period: float = 0.1
    ) -> None:
        self.listeners = listeners
        self._is_up = is_up
        self._period = period
        self._stop = threading.Event()
        self.sync()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def sync(self) -> None:
        for name, listener in self.listeners.items():
            listener.set_open(self._is_up(name))

    def _watch(self) -> None:
        while not self._stop.wait(self._period):
            self.sync()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for listener in self.listeners.values():
            listener.close()
