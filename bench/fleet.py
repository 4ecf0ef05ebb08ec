"""The deployment under test: `runbook-bot serve` replicas, HAProxy in front, Redis behind.

Every part is a real process on loopback: each replica is the installed `runbook-bot serve` in
a folder of its own (its log is kept there), HAProxy from Debian's package balances
`/slack/events` over them with health checks, and the store is a redis-server (or, for one
replica alone, the embedded SQLite file). The Slack Web API stand-in and the sandbox cluster
live in the driver's process.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.ack_latency import healthy, listening_port, log_text, product_command
from tests.support.redis_server import free_port

# Slack gives up on an ack after 3 s; HAProxy gives up on a replica no later.
_SERVER_TIMEOUT = "3s"
# A replica that stops answering its health check is out of the rotation within ~1 s.
_CHECK = "inter 500ms fall 2 rise 2"


@dataclass
class Replica:
    """One `runbook-bot serve` process and where it listens."""

    name: str
    folder: Path
    process: asyncio.subprocess.Process
    port: int = 0
    killed: bool = False
    paused: bool = False

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """kill -9: no shutdown, no released claims, requests in flight cut."""
        self.process.send_signal(signal.SIGKILL)
        self.killed = True

    def pause(self) -> None:
        """SIGSTOP: its sockets still accept, nothing answers, its timers stand still."""
        self.process.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)
        self.paused = False

    def rss_kib(self) -> int:
        """Resident set size now, from /proc."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise ProcessLookupError(f"no VmRSS for {self.name}")


async def start_replica(name: str, env: dict[str, str], folder: Path) -> Replica:
    """Starts one replica on a free port; returns once it listens (health is checked later)."""
    with (folder / "server.log").open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *product_command(None), "--host", "127.0.0.1", "--port", "0",
            env=env, cwd=folder, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    replica = Replica(name, folder, process)
    replica.port = await listening_port(process, replica.log)
    return replica


async def stop_replica(replica: Replica) -> None:
    """SIGTERM (after SIGCONT, should it be paused) and a wait; SIGKILL if it hangs."""
    process = replica.process
    if process.returncode is None:
        process.send_signal(signal.SIGCONT)
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 60)
        except TimeoutError:
            process.kill()
            await process.wait()
    if process.returncode not in (0, -signal.SIGKILL) or (
        process.returncode == -signal.SIGKILL and not replica.killed
    ):
        tail = log_text(replica.log)[-1500:]
        print(
            f"  warning: {replica.name} exited with {process.returncode}:\n{tail}", file=sys.stderr
        )


def haproxy_config(port: int, replicas: list[Replica]) -> str:
    """Round robin over the replicas; a retry only when the connection was never made."""
    servers = "\n".join(f"    server {r.name} 127.0.0.1:{r.port} check {_CHECK}" for r in replicas)
    # `retries` with the default `retry-on conn-failure` resends only what no replica received,
    # so a click is never delivered twice by the balancer itself.
    return f"""global
    maxconn 4096
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server {_SERVER_TIMEOUT}
    retries 2
    option redispatch
frontend slack
    bind 127.0.0.1:{port}
    default_backend bots
backend bots
    balance roundrobin
    option httpchk GET /healthz
{servers}
"""


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    if found is None:
        sys.exit("haproxy is not installed (make test-deps installs it)")
    return found


@dataclass
class Balancer:
    """HAProxy in the foreground on a free port of 127.0.0.1."""

    port: int
    process: asyncio.subprocess.Process

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"


@asynccontextmanager
async def balancer(replicas: list[Replica], folder: Path) -> AsyncIterator[Balancer]:
    """HAProxy in front of the replicas until the block ends."""
    port = free_port()
    config = folder / "haproxy.cfg"
    config.write_text(haproxy_config(port, replicas), encoding="utf-8")
    log = folder / "haproxy.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            haproxy_binary(), "-db", "-f", str(config),
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
        )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as session:
            await healthy(session, f"http://127.0.0.1:{port}")
        yield Balancer(port, process)
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


@dataclass
class Fleet:
    """The replicas and the URL Slack would post to (the balancer's, or the one replica's)."""

    replicas: list[Replica]
    url: str


@asynccontextmanager
async def fleet(
    count: int, env: dict[str, str], folder: Path, session: aiohttp.ClientSession
) -> AsyncIterator[Fleet]:
    """`count` replicas sharing env's store; behind HAProxy when there are several."""
    started: list[Replica] = []
    try:
        for index in range(count):
            (folder / f"r{index + 1}").mkdir(parents=True)
            started.append(await start_replica(f"r{index + 1}", env, folder / f"r{index + 1}"))
        for replica in started:
            await healthy(session, replica.origin)
        if count == 1:
            yield Fleet(started, f"{started[0].origin}/slack/events")
        else:
            async with balancer(started, folder) as front:
                yield Fleet(started, front.url)
    finally:
        await asyncio.gather(*(stop_replica(r) for r in started))
