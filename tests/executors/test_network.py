"""NetworkExecutor against real sockets and the system resolver."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, WriteAction
from bot.executors.network import DnsResolve, NetworkExecutor, TcpConnect
from tests.support.redis_server import free_port

TARGET = ServiceBinding()


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def findings(result: CheckResult) -> dict[str, object]:
    return {f.name: f.value for f in result.findings}


async def test_connect_to_listening_port(listening_port: int) -> None:
    action = TcpConnect(type="tcp.connect", host="127.0.0.1", port=listening_port)
    result = await NetworkExecutor().check(action, TARGET)

    assert result.status == "ok"
    assert findings(result)["tcp.reachable"] is True
    assert isinstance(findings(result)["tcp.connect_ms"], int)
    assert result.summary.startswith(f"tcp 127.0.0.1:{listening_port}: connected in ")


async def test_connect_to_closed_port_is_a_problem() -> None:
    port = free_port()
    action = TcpConnect(type="tcp.connect", host="127.0.0.1", port=port)
    result = await NetworkExecutor().check(action, TARGET)

    assert result.status == "problem"
    assert result.summary == f"tcp 127.0.0.1:{port}: connection refused"
    assert findings(result) == {"tcp.reachable": False}


async def test_localhost_resolves() -> None:
    result = await NetworkExecutor().check(DnsResolve(type="dns.resolve", host="localhost"), TARGET)

    assert result.status == "ok"
    assert findings(result)["dns.resolved"] is True
    assert "127.0.0.1" in result.output.splitlines()


async def test_invalid_name_does_not_resolve() -> None:
    action = DnsResolve(type="dns.resolve", host="nonexistent.invalid", timeout_s=10)
    result = await NetworkExecutor().check(action, TARGET)

    assert result.status == "problem"
    assert result.summary.startswith("dns nonexistent.invalid: ")
    assert "\n" not in result.summary
    assert findings(result) == {"dns.resolved": False}


async def test_writes_are_refused() -> None:
    write = WriteAction(type="tcp.reset")
    assert (await NetworkExecutor().apply(write, TARGET)).status == "error"
    assert (await NetworkExecutor().preview(write, TARGET)).error is not None


@pytest.mark.parametrize(
    "params",
    [
        {"type": "tcp.connect", "host": "127.0.0.1", "port": 0},
        {"type": "tcp.connect", "host": "127.0.0.1", "port": 65536},
        {"type": "tcp.connect", "host": "db host", "port": 5432},
        {"type": "tcp.connect", "host": "tcp://db", "port": 5432},
        {"type": "tcp.connect", "host": "db:5432", "port": 5432},
        {"type": "tcp.connect", "host": "db", "port": 5432, "timeout_s": 0},
        {"type": "dns.resolve", "host": "has space.example"},
        {"type": "dns.resolve", "host": ""},
        {"type": "dns.resolve", "host": "-bad.example"},
    ],
)
def test_bad_params_are_rejected(params: dict[str, object]) -> None:
    model = TcpConnect if params["type"] == "tcp.connect" else DnsResolve
    with pytest.raises(ValidationError):
        model.model_validate(params)


@pytest.mark.parametrize(
    "host", ["db.default.svc.cluster.local", "10.0.0.7", "::1", "${service.x}"]
)
def test_good_hosts_are_accepted(host: str) -> None:
    assert DnsResolve(type="dns.resolve", host=host).host == host
