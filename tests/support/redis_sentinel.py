"""A real Sentinel setup on loopback: a primary, one replica and three redis-sentinels."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.redis_server import free_port, require_redis_server
from tests.support.started import Started

SERVICE = "runbook"
# Short, so a test sees a failover in seconds; production keeps Sentinel's own defaults.
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000
_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 10.0


def require_redis_sentinel() -> str:
    """The redis-sentinel binary; skips the calling test when it is missing."""
    binary = shutil.which("redis-sentinel") or (
        "/usr/bin/redis-sentinel" if Path("/usr/bin/redis-sentinel").exists() else None
    )
    if binary is None:
        pytest.skip("redis-sentinel is not installed (make test-deps installs it)")
    return binary


def redis_cli(port: int, *args: str, timeout: float = 5.0) -> str:
    """One redis-cli command against 127.0.0.1:port; its output, stripped ('' on failure)."""
    try:
        done = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


class RedisProcess:
    """One redis-server or redis-sentinel process with its config file and log."""

    def __init__(self, binary: str, directory: Path, name: str, lines: list[str]) -> None:
        self.port = free_port()
        self.directory = directory / name
        self.directory.mkdir()
        config = self.directory / "redis.conf"
        config.write_text(
            "\n".join(
                [
                    f"port {self.port}",
                    "bind 127.0.0.1",
                    f'dir "{self.directory}"',
                    'save ""',
                    "appendonly no",
                    *lines,
                ]
            )
            + "\n"
        )
        with (self.directory / "log").open("ab") as log:
            self.process = subprocess.Popen(
                [binary, str(config)], stdout=log, stderr=subprocess.STDOUT
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if redis_cli(self.port, "PING", timeout=1.0) == "PONG":
                return
            time.sleep(0.05)
        tail = (self.directory / "log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"redis on port {self.port} did not start:\n{tail}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last replication."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGCONT)
        self.process.terminate()
        try:
            self.process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()


class RedisSentinel(Started):
    """A primary, one replica (or `replicas`) and three sentinels, on free loopback ports.

    `url` is the bot's `redis+sentinel://` URL; `kill_primary()` kill -9s the current primary
    and `wait_for_promotion()` waits until the sentinels name a new one.
    """

    def __init__(
        self, service: str = SERVICE, replicas: int = 1, down_after_ms: int = DOWN_AFTER_MS
    ) -> None:
        self.service = service
        self.replicas = replicas
        self.down_after_ms = down_after_ms
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._servers: list[RedisProcess] = []
        self._sentinels: list[RedisProcess] = []

    @property
    def sentinel_ports(self) -> list[int]:
        """Ports of the three sentinels."""
        return [s.port for s in self._sentinels]

    @property
    def url(self) -> str:
        """redis+sentinel://host:port,host:port,host:port/SERVICE for the bot."""
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{self.service}"

    def _named_primary(self, sentinel_port: int) -> int:
        answer = redis_cli(sentinel_port, "SENTINEL", "get-master-addr-by-name", self.service)
        return int(answer.split()[1])

    def primary_port(self) -> int:
        """Port of the server the sentinels currently name as primary."""
        for port in self.sentinel_ports:
            answer = redis_cli(port, "SENTINEL", "get-master-addr-by-name", self.service)
            lines = answer.split()
            if len(lines) == 2:
                return int(lines[1])
        raise RuntimeError("no sentinel names a primary")

    def replica_ports(self) -> list[int]:
        """Ports of the live servers that are not the current primary."""
        primary = self.primary_port()
        return [s.port for s in self._servers if s.port != primary and s.process.poll() is None]

    def start(self) -> None:
        """Start the primary and replica, wait for replication, start and settle the sentinels."""
        server = require_redis_server()
        sentinel = require_redis_sentinel()
        self._dir = tempfile.TemporaryDirectory(prefix="redis-sentinel-test-")
        root = Path(self._dir.name)
        try:
            primary = RedisProcess(server, root, "primary", [])
            self._servers.append(primary)
            primary.wait_ready()
            for n in range(self.replicas):
                replica = RedisProcess(
                    server, root, f"replica-{n}", [f"replicaof 127.0.0.1 {primary.port}"]
                )
                self._servers.append(replica)
                replica.wait_ready()
            self._wait(self._replicating)
            for n in range(3):
                watcher = RedisProcess(
                    sentinel,
                    root,
                    f"sentinel-{n}",
                    [
                        f"sentinel monitor {self.service} 127.0.0.1 {primary.port} 2",
                        f"sentinel down-after-milliseconds {self.service} {self.down_after_ms}",
                        f"sentinel failover-timeout {self.service} {FAILOVER_TIMEOUT_MS}",
                        f"sentinel parallel-syncs {self.service} 1",
                    ],
                )
                self._sentinels.append(watcher)
            for watcher in self._sentinels:
                watcher.wait_ready()
            # Every sentinel must know the replica and the other sentinels to vote a failover.
            self._wait(self._settled)
        except BaseException:
            self.stop()
            raise

    def _replicating(self) -> bool:
        return all(
            "master_link_status:up" in redis_cli(replica.port, "INFO", "replication")
            for replica in self._servers[1:]
        )

    def _settled(self) -> bool:
        for port in self.sentinel_ports:
            info = redis_cli(port, "SENTINEL", "master", self.service).split("\n")
            fields = dict(zip(info[::2], info[1::2], strict=False))
            if (
                fields.get("num-slaves") != str(self.replicas)
                or fields.get("num-other-sentinels") != "2"
            ):
                return False
        return True

    def kill_primary(self) -> int:
        """kill -9 the current primary; returns its port."""
        port = self.primary_port()
        for server in self._servers:
            if server.port == port:
                server.kill()
        return port

    def freeze_replicas(self) -> None:
        """SIGSTOP every live replica: the primary still answers, no replica confirms a write."""
        primary = self.primary_port()
        for server in self._servers:
            if server.port != primary and server.process.poll() is None:
                server.process.send_signal(signal.SIGSTOP)

    def freeze_replica(self, port: int) -> None:
        """SIGSTOP one replica: it stays connected to the primary but confirms nothing."""
        for server in self._servers:
            if server.port == port:
                server.process.send_signal(signal.SIGSTOP)

    def thaw_replicas(self) -> None:
        """SIGCONT every replica again."""
        for server in self._servers:
            if server.process.poll() is None:
                server.process.send_signal(signal.SIGCONT)

    def wait_for_promotion(self, old_port: int, timeout_s: float = 60.0) -> int:
        """Wait until every sentinel names a primary other than old_port and it takes writes."""

        def promoted() -> bool:
            try:
                ports = {self._named_primary(p) for p in self.sentinel_ports}
            except (IndexError, ValueError):
                return False
            if len(ports) != 1 or old_port in ports:
                return False
            return "role:master" in redis_cli(ports.pop(), "INFO", "replication")

        self._wait(promoted, timeout_s)
        return self.primary_port()

    def _wait(self, condition: Callable[[], bool], timeout_s: float = _START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.1)
        raise RuntimeError(f"redis sentinel setup: timed out waiting for {condition}")

    def stop(self) -> None:
        """Stop every process and remove the data directory."""
        for process in [*self._sentinels, *self._servers]:
            process.stop()
        self._sentinels.clear()
        self._servers.clear()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
