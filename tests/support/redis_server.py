"""A real redis-server on a free port with a throwaway data directory."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.started import Started

# Generous: this only bounds a hang on a loaded shared box, it is not a performance check.
_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 10.0


def redis_server_binary() -> str | None:
    """Path of the redis-server binary, or None when it is not installed."""
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )


def require_redis_server() -> str:
    """The redis-server binary; skips the calling test with the reason when it is missing."""
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("redis-server is not installed (make test-deps installs it)")
    return binary


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pings(port: int, password: str | None) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            if password is not None:
                sock.sendall(_command("AUTH", password))
                if not sock.recv(64).startswith(b"+OK"):
                    return False
            sock.sendall(_command("PING"))
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _command(*parts: str) -> bytes:
    encoded = [p.encode() for p in parts]
    out = b"*%d\r\n" % len(encoded)
    for part in encoded:
        out += b"$%d\r\n%s\r\n" % (len(part), part)
    return out


class RedisServer(Started):
    """redis-server on a free port without persistence; start/stop or use as a context manager."""

    def __init__(self, password: str | None = None) -> None:
        self.password = password
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        """redis:// URL of the running server, with the password when one is set."""
        auth = f":{self.password}@" if self.password is not None else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait for PING; retries when another process took the port."""
        binary = require_redis_server()
        self._dir = tempfile.TemporaryDirectory(prefix="redis-test-")
        for _ in range(5):
            self.port = free_port()
            args = [
                binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", self._dir.name,
            ]  # fmt: skip
            if self.password is not None:
                args += ["--requirepass", self.password]
            with Path(self._dir.name, "redis.log").open("ab") as log:
                self._process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
            if self._wait_ready():
                return
            self._terminate()
        log_tail = Path(self._dir.name, "redis.log").read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"redis-server did not start:\n{log_tail}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            if _pings(self.port, self.password):
                return True
            time.sleep(0.05)
        return False

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)
        process.terminate()
        try:
            process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def freeze(self) -> None:
        """SIGSTOP: the port still accepts connections, but nothing answers."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT: the server answers again, including what was sent while it was frozen."""
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Stop the server and remove its data directory."""
        self._terminate()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
