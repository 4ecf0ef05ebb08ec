"""Network checks: can the bot open a TCP connection to a host, and does its name resolve."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import time
from typing import Literal

from pydantic import Field

from bot.config import ServiceBinding
from bot.executors.base import Backend, CheckResult, Finding, ReadAction
from bot.executors.common import elapsed_ms, reached, unreachable
from bot.executors.params import Host, Port
from bot.executors.tabled import TabledExecutor


class TcpConnect(ReadAction):
    """Open (and close) a TCP connection, like `nc -z host port`."""

    type: Literal["tcp.connect"]
    host: Host
    port: Port
    timeout_s: float = Field(default=5.0, gt=0, le=60)


class DnsResolve(ReadAction):
    """Resolve a host name to its addresses, like `nslookup host`."""

    type: Literal["dns.resolve"]
    host: Host
    timeout_s: float = Field(default=5.0, gt=0, le=60)


READS = (TcpConnect, DnsResolve)
WRITES = ()


async def _connect(_client: None, action: TcpConnect, target: ServiceBinding) -> CheckResult:
    # Brackets keep an IPv6 address readable next to its port.
    where = (
        f"[{action.host}]:{action.port}" if ":" in action.host else f"{action.host}:{action.port}"
    )
    started = time.perf_counter()
    try:
        async with asyncio.timeout(action.timeout_s):
            _, writer = await asyncio.open_connection(action.host, action.port)
    except TimeoutError:
        return _unreachable(where, f"timed out after {action.timeout_s:g}s")
    except OSError as exc:
        return _unreachable(where, _os_reason(exc))
    connect_ms = elapsed_ms(started)
    writer.close()
    # The peer may reset on close; the connection was made, which is the answer.
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(action.timeout_s):
            await writer.wait_closed()
    return reached(
        f"tcp {where}: connected in {connect_ms} ms",
        [
            Finding(name="tcp.reachable", value=True, subject=where),
            Finding(name="tcp.connect_ms", value=connect_ms, subject=where),
        ],
    )


def _unreachable(where: str, reason: str) -> CheckResult:
    return unreachable(f"tcp {where}", reason, "tcp.reachable", where)


async def _resolve(_client: None, action: DnsResolve, target: ServiceBinding) -> CheckResult:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(action.timeout_s):
            infos = await loop.getaddrinfo(action.host, None, type=socket.SOCK_STREAM)
    except TimeoutError:
        return _unresolved(action.host, f"timed out after {action.timeout_s:g}s")
    except OSError as exc:
        return _unresolved(action.host, _os_reason(exc))
    addresses = sorted({str(info[4][0]) for info in infos})
    return CheckResult(
        status="ok",
        summary=f"dns {action.host}: {', '.join(addresses)}",
        output="\n".join(addresses),
        findings=[
            Finding(name="dns.resolved", value=True, subject=action.host),
            Finding(name="dns.address_count", value=len(addresses), subject=action.host),
        ],
    )


def _unresolved(host: str, reason: str) -> CheckResult:
    return unreachable(f"dns {host}", reason, "dns.resolved", host)


def _os_reason(exc: OSError) -> str:
    """The OS's own words without errno clutter: 'connection refused', 'name does not resolve'."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)):
            return "name does not resolve"
        return f"lookup failed: {exc.strerror or exc}"
    text = str(exc)
    # asyncio joins the errors of every address it tried (IPv6 and IPv4) into one OSError.
    refused = f"[Errno {errno.ECONNREFUSED}]"
    if text.startswith("Multiple exceptions") and text.count("[Errno") == text.count(refused):
        return "connection refused"
    return (exc.strerror or text or type(exc).__name__).strip().splitlines()[0].lower()


class NetworkExecutor(TabledExecutor[None]):
    """Runs TCP and DNS checks from where the bot runs; failures to reach are findings."""

    def __init__(self) -> None:
        super().__init__("network", None, {"tcp.connect": _connect, "dns.resolve": _resolve})


BACKEND = Backend("network", READS, WRITES, lambda clients: NetworkExecutor())
