"""Real Prometheus and Alertmanager (Debian's packages) on free ports, with configs a test writes,
and the scrape target they watch.

Everything here is async: the target answers scrapes from the test's own event loop, so nothing
may block that loop while Prometheus watches it.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import aiohttp
import pytest
import yaml
from aiohttp import web

from tests.support.redis_server import free_port

PROMETHEUS = "prometheus"
ALERTMANAGER = "prometheus-alertmanager"
# Generous: these only bound a hang on a loaded shared box, they are not performance checks.
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
_POLL_S = 0.1

T = TypeVar("T")


def _binary(name: str) -> str | None:
    return shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)


def require_prometheus() -> tuple[str, str]:
    """The prometheus and alertmanager binaries; skips the calling test when either is missing."""
    prometheus, alertmanager = _binary(PROMETHEUS), _binary(ALERTMANAGER)
    if prometheus is None or alertmanager is None:
        pytest.skip(
            "prometheus and prometheus-alertmanager are not installed"
            " (make test-deps installs them)"
        )
    return prometheus, alertmanager


async def eventually(
    probe: Callable[[], Awaitable[T | None]], what: str, timeout: float = START_TIMEOUT_S
) -> T:
    """The first non-None result of `probe`, polled until `timeout`; else AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f}s")
        await asyncio.sleep(_POLL_S)


class MetricsTarget:
    """An HTTP server serving `/metrics` in the Prometheus text format; stops and comes back on
    the same port, so Prometheus sees the target go down and up again."""

    def __init__(self, body: Callable[[], str] | None = None) -> None:
        self.port = 0
        self._runner: web.AppRunner | None = None
        # What each scrape answers; unset, one counter that never moves.
        self._body = body

    @property
    def address(self) -> str:
        """`127.0.0.1:<port>`, as a scrape config's target."""
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Listens on a free port the first time, on the same port after a stop."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Closes the port: scrapes are refused, so Prometheus records `up == 0`."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        body = (
            self._body()
            if self._body
            else (
                "# HELP ecap_api_requests_total Requests served.\n"
                "# TYPE ecap_api_requests_total counter\n"
                "ecap_api_requests_total 1\n"
            )
        )
        return web.Response(text=body, content_type="text/plain", charset="utf-8")

    async def __aenter__(self) -> MetricsTarget:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


class _Daemon(ABC):
    """One Prometheus-family process on a free port with a throwaway directory."""

    name = ""

    def __init__(self) -> None:
        self.port = 0
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def directory(self) -> Path:
        assert self._dir is not None, f"{self.name} is not started"
        return Path(self._dir.name)

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """The config file's content; may write companion files into the directory."""

    @abstractmethod
    def args(self, binary: str) -> list[str]:
        """The command line."""

    @abstractmethod
    def binary(self) -> str:
        """The executable; skips the test when it is not installed."""

    def log_tail(self) -> str:
        """The end of the process's output, for failure messages."""
        log = self.directory / "output.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else ""

    async def start(self) -> None:
        """Writes the config, starts the process, waits for `/-/ready`; retries on a lost port."""
        binary = self.binary()
        self._dir = tempfile.TemporaryDirectory(prefix=f"{self.name}-test-")
        config = self.directory / "config.yml"
        config.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                self.port = free_port()
                with (self.directory / "output.log").open("ab") as log:
                    self._process = await asyncio.create_subprocess_exec(
                        *self.args(binary), stdout=log, stderr=asyncio.subprocess.STDOUT
                    )
                if await self._ready(session):
                    return
                await self._terminate()
        tail = self.log_tail()
        await self.stop()
        raise RuntimeError(f"{self.name} did not become ready:\n{tail}")

    async def _ready(self, session: aiohttp.ClientSession) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process is None or self._process.returncode is not None:
                return False
            try:
                async with session.get(f"{self.url}/-/ready") as response:
                    if response.status == 200:
                        return True
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(_POLL_S)
        return False

    async def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def stop(self) -> None:
        """Stops the process and removes its directory."""
        await self._terminate()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


@dataclass(frozen=True)
class AlertRule:
    """One alerting rule: fires `name` with `labels` once `expr` has held for `for_`."""

    name: str
    expr: str
    for_: str = "1s"
    labels: dict[str, str] = field(default_factory=dict)


class Prometheus(_Daemon):
    """Prometheus scraping `jobs` (job name to `host:port` targets) every second, evaluating
    `rules` every second and sending alerts to the Alertmanager at `alertmanager` (`host:port`)."""

    name = "prometheus"

    def __init__(
        self,
        *,
        jobs: dict[str, list[str]],
        rules: list[AlertRule],
        alertmanager: str | None = None,
        interval: str = "1s",
    ) -> None:
        super().__init__()
        self.jobs = jobs
        self.rules = rules
        self.alertmanager = alertmanager
        self.interval = interval

    def binary(self) -> str:
        return require_prometheus()[0]

    def config(self) -> dict[str, Any]:
        rules_file = self.directory / "rules.yml"
        rules_file.write_text(yaml.safe_dump({"groups": [self._rule_group()]}, sort_keys=False))
        config: dict[str, Any] = {
            "global": {
                "scrape_interval": self.interval,
                "scrape_timeout": self.interval,
                "evaluation_interval": self.interval,
            },
            "rule_files": [str(rules_file)],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": targets}]}
                for job, targets in self.jobs.items()
            ],
        }
        if self.alertmanager is not None:
            config["alerting"] = {
                "alertmanagers": [{"static_configs": [{"targets": [self.alertmanager]}]}]
            }
        return config

    def _rule_group(self) -> dict[str, Any]:
        return {
            "name": "test",
            "interval": self.interval,
            "rules": [
                {"alert": r.name, "expr": r.expr, "for": r.for_, "labels": r.labels}
                for r in self.rules
            ],
        }

    def args(self, binary: str) -> list[str]:
        return [
            binary,
            f"--config.file={self.directory / 'config.yml'}",
            f"--storage.tsdb.path={self.directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]

    async def query(self, session: aiohttp.ClientSession, expr: str) -> list[dict[str, Any]]:
        """The instant vector of `expr` now (the API's `data.result`)."""
        async with session.get(f"{self.url}/api/v1/query", params={"query": expr}) as response:
            body = await response.json()
        assert body.get("status") == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    async def wait_for_value(
        self,
        session: aiohttp.ClientSession,
        expr: str,
        value: str,
        timeout: float = START_TIMEOUT_S,
    ) -> None:
        """Waits until `expr` has a sample equal to `value` (e.g. `up{job="x"}` and "1")."""

        async def probe() -> bool | None:
            samples = await self.query(session, expr)
            return True if any(s["value"][1] == value for s in samples) else None

        try:
            await eventually(probe, f"{expr} == {value}", timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nprometheus output:\n{self.log_tail()}") from None


class Alertmanager(_Daemon):
    """Alertmanager sending every alert, firing and resolved, to one webhook with fast grouping
    (group_wait and group_interval 1s) and a bearer token or basic auth when given."""

    name = "alertmanager"

    def __init__(
        self,
        *,
        webhook_url: str,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        group_by: tuple[str, ...] = ("alertname", "job"),
    ) -> None:
        super().__init__()
        self.webhook_url = webhook_url
        self.bearer_token = bearer_token
        self.basic_auth = basic_auth
        self.group_by = group_by

    def binary(self) -> str:
        return require_prometheus()[1]

    def config(self) -> dict[str, Any]:
        http_config: dict[str, Any] = {}
        if self.bearer_token is not None:
            http_config["authorization"] = {"type": "Bearer", "credentials": self.bearer_token}
        if self.basic_auth is not None:
            username, password = self.basic_auth
            http_config["basic_auth"] = {"username": username, "password": password}
        webhook: dict[str, Any] = {"url": self.webhook_url, "send_resolved": True}
        if http_config:
            webhook["http_config"] = http_config
        return {
            "global": {"resolve_timeout": "5s"},
            "route": {
                "receiver": "bot",
                "group_by": list(self.group_by),
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [{"name": "bot", "webhook_configs": [webhook]}],
        }

    def args(self, binary: str) -> list[str]:
        return [
            binary,
            f"--config.file={self.directory / 'config.yml'}",
            f"--storage.path={self.directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",
        ]

    @property
    def address(self) -> str:
        """`127.0.0.1:<port>`, as Prometheus's alerting config takes it."""
        return f"127.0.0.1:{self.port}"
