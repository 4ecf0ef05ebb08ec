"""Real Prometheus and Alertmanager fire an alert when their target stops and resolve it when the
target comes back, delivering both to a webhook with the configured bearer token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.support.prometheus import (
    Alertmanager,
    AlertRule,
    MetricsTarget,
    Prometheus,
    eventually,
    require_prometheus,
)

pytestmark = pytest.mark.slow

TOKEN = "am-test-token-0123456789"
RULE = AlertRule(
    "APIServiceDown", 'up{job="ecap-api"} == 0', "1s", {"job": "ecap-api", "severity": "critical"}
)


@dataclass
class Receiver:
    """A plain webhook receiver that records each delivery's Authorization header and body."""

    url: str
    deliveries: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def delivery(self, status: str) -> dict[str, Any]:
        """The first payload whose status is `status` ("firing" or "resolved")."""

        async def probe() -> dict[str, Any] | None:
            return next((body for _, body in self.deliveries if body["status"] == status), None)

        return await eventually(probe, f"a {status} notification")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    deliveries: list[tuple[str, dict[str, Any]]] = []

    async def hook(request: web.Request) -> web.Response:
        deliveries.append((request.headers.get("Authorization", ""), await request.json()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        yield Receiver(f"http://127.0.0.1:{port}/hook", deliveries)
    finally:
        await runner.cleanup()


async def test_alert_fires_and_resolves_through_alertmanager(receiver: Receiver) -> None:
    require_prometheus()
    async with (
        MetricsTarget() as target,
        Alertmanager(webhook_url=receiver.url, bearer_token=TOKEN) as alertmanager,
        Prometheus(
            jobs={"ecap-api": [target.address]}, rules=[RULE], alertmanager=alertmanager.address
        ) as prometheus,
        aiohttp.ClientSession() as session,
    ):
        await prometheus.wait_for_value(session, 'up{job="ecap-api"}', "1")
        assert receiver.deliveries == []

        await target.stop()
        firing = await receiver.delivery("firing")
        alert = firing["alerts"][0]
        assert alert["labels"]["alertname"] == "APIServiceDown"
        assert alert["labels"]["job"] == "ecap-api"
        assert alert["labels"]["severity"] == "critical"
        assert firing["version"] == "4"
        assert firing["groupKey"]
        assert {auth for auth, _ in receiver.deliveries} == {f"Bearer {TOKEN}"}

        await target.start()
        resolved = await receiver.delivery("resolved")
        assert resolved["groupKey"] == firing["groupKey"]
        assert resolved["alerts"][0]["status"] == "resolved"
        assert {auth for auth, _ in receiver.deliveries} == {f"Bearer {TOKEN}"}


async def test_basic_auth_reaches_the_webhook(receiver: Receiver) -> None:
    require_prometheus()
    async with (
        MetricsTarget() as target,
        Alertmanager(webhook_url=receiver.url, basic_auth=("am", "pw-0123")) as alertmanager,
        Prometheus(
            jobs={"ecap-api": [target.address]}, rules=[RULE], alertmanager=alertmanager.address
        ) as prometheus,
        aiohttp.ClientSession() as session,
    ):
        await prometheus.wait_for_value(session, 'up{job="ecap-api"}', "1")
        await target.stop()
        await receiver.delivery("firing")
        assert {auth for auth, _ in receiver.deliveries} == {"Basic YW06cHctMDEyMw=="}
