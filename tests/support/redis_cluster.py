"""A real three-primary Redis Cluster on loopback, made with `redis-cli --cluster create`."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.redis_sentinel import RedisProcess, redis_cli
from tests.support.redis_server import free_port, require_redis_server
from tests.support.started import Started

_START_TIMEOUT_S = 60.0


class RedisCluster(Started):
    """Three cluster-mode redis-servers sharing the 16384 slots; no replicas unless asked.

    `url` is the bot's `redis+cluster://` URL naming every node; `ports` lists them.
    """

    def __init__(self, primaries: int = 3, replicas: int = 0) -> None:
        self.primaries = primaries
        self.replicas = replicas
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._nodes: list[RedisProcess] = []

    @property
    def ports(self) -> list[int]:
        """Ports of the cluster's nodes."""
        return [node.port for node in self._nodes]

    @property
    def url(self) -> str:
        """redis+cluster://host:port,host:port,... for the bot."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def start(self) -> None:
        """Start the nodes, join them into one cluster, wait until every slot is served."""
        server = require_redis_server()
        self._dir = tempfile.TemporaryDirectory(prefix="redis-cluster-test-")
        root = Path(self._dir.name)
        try:
            for n in range(self.primaries * (1 + self.replicas)):
                node = RedisProcess(
                    server,
                    root,
                    f"node-{n}",
                    [
                        "cluster-enabled yes",
                        f'cluster-config-file "{root / f"node-{n}" / "nodes.conf"}"',
                        "cluster-node-timeout 5000",
                        # Named, since the default (port + 10000) overflows for high free ports.
                        f"cluster-port {free_port()}",
                    ],
                )
                self._nodes.append(node)
            for node in self._nodes:
                node.wait_ready()
            created = subprocess.run(
                [
                    "redis-cli",
                    "--cluster",
                    "create",
                    *(f"127.0.0.1:{port}" for port in self.ports),
                    "--cluster-replicas",
                    str(self.replicas),
                    "--cluster-yes",
                ],
                capture_output=True,
                text=True,
                timeout=_START_TIMEOUT_S,
            )
            if created.returncode != 0:
                raise RuntimeError(f"redis-cli --cluster create failed:\n{created.stdout[-2000:]}")
            self._wait_ok()
        except BaseException:
            self.stop()
            raise

    def _wait_ok(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if all(self._serving(port) for port in self.ports):
                return
            time.sleep(0.1)
        raise RuntimeError("redis cluster did not reach cluster_state:ok with replicas in sync")

    def _serving(self, port: int) -> bool:
        if "cluster_state:ok" not in redis_cli(port, "CLUSTER", "INFO"):
            return False
        # A replica counts once it has its primary's data, so a write can be confirmed.
        replication = redis_cli(port, "INFO", "replication")
        return "role:master" in replication or "master_link_status:up" in replication

    def node_of(self, key: str) -> int:
        """Port of the primary serving key's slot."""
        alive = [node.port for node in self._nodes if node.process.poll() is None]
        return self._node_of(key, alive[0])

    def _node_of(self, key: str, asked: int) -> int:
        slot = int(redis_cli(asked, "CLUSTER", "KEYSLOT", key))
        for line in redis_cli(asked, "CLUSTER", "NODES").splitlines():
            fields = line.split()
            if "master" not in fields[2] or "fail" in fields[2]:
                continue
            for span in fields[8:]:
                low, _, high = span.partition("-")
                if low.isdigit() and int(low) <= slot <= int(high or low):
                    return int(fields[1].split("@")[0].rsplit(":", 1)[1])
        raise RuntimeError(f"no node serves slot {slot}")

    def kill_primary_of(self, key: str) -> int:
        """kill -9 the primary serving key's slot; returns its port."""
        port = self.node_of(key)
        for node in self._nodes:
            if node.port == port:
                node.kill()
        return port

    def wait_for_failover(self, old_port: int, key: str, timeout_s: float = 60.0) -> int:
        """Wait until a live node serves key's slot in place of old_port; returns its port."""
        deadline = time.monotonic() + timeout_s
        alive = [node.port for node in self._nodes if node.process.poll() is None]
        while time.monotonic() < deadline:
            try:
                port = self._node_of(key, alive[0])
            except RuntimeError:
                port = old_port
            if port != old_port and all(self._serving(p) for p in alive):
                return port
            time.sleep(0.1)
        raise RuntimeError(f"no replica took over from the primary on port {old_port}")

    def stop(self) -> None:
        """Stop every node and remove the data directory."""
        for node in self._nodes:
            node.stop()
        self._nodes.clear()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
