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
from bot.executors.base import CheckResult, ChecksOnly, Finding, ReadAction
from bot.executors.params import Host, Port
from bot.redact import redact


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


class NetworkExecutor(ChecksOnly):
    """Runs TCP and DNS checks from where the bot runs; failures to reach are findings."""

    async def check(self, action: ReadAction, target: ServiceBinding) -> CheckResult:
        if isinstance(action, TcpConnect):
            return await _connect(action)
        if isinstance(action, DnsResolve):
            return await _resolve(action)
        return CheckResult(status="error", summary=f"{action.type}: not a network check")


async def _connect(action: TcpConnect) -> CheckResult:
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
    connect_ms = round((time.perf_counter() - started) * 1000)
    writer.close()
    # The peer may reset on close; the connection was made, which is the answer.
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(action.timeout_s):
            await writer.wait_closed()
    summary = f"tcp {where}: connected in {connect_ms} ms"
    return CheckResult(
        status="ok",
        summary=summary,
        output=summary,
        findings=[
            Finding(name="tcp.reachable", value=True, subject=where),
            Finding(name="tcp.connect_ms", value=connect_ms, subject=where),
        ],
    )


def _unreachable(where: str, reason: str) -> CheckResult:
    summary = redact(f"tcp {where}: {reason}")
    return CheckResult(
        status="problem",
        summary=summary,
        output=summary,
        findings=[Finding(name="tcp.reachable", value=False, subject=where)],
    )


async def _resolve(action: DnsResolve) -> CheckResult:
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
    summary = f"dns {host}: {reason}"
    return CheckResult(
        status="problem",
        summary=summary,
        output=summary,
        findings=[Finding(name="dns.resolved", value=False, subject=host)],
    )


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
