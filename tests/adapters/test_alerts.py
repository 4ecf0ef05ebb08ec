"""Alertmanager's webhook through the real aiohttp endpoint, with the Slack stand-in and sandbox."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.adapters.alerts import AlertWebhook
from bot.adapters.slack.factory import build_slack
from bot.adapters.slack.listeners.alert_sink import SlackAlertSink
from bot.adapters.web import listening, web_app
from bot.app import running_engine
from bot.config import AlertsConfig, Channels, Config, ServiceBinding
from bot.drills.kubernetes import Sandbox
from bot.engine.engine import Engine
from bot.engine.incident import Incident
from bot.settings import Settings
from tests.support.slack_api import SlackApiStandIn

REPO = Path(__file__).resolve().parents[2]
TOKEN = "alert-token-0123456789"
USER, PASSWORD = "alertmanager", "alert-password-9876"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
GROUP = '{}:{alertname="APIServiceDown", job="ecap-api"}'


def basic(user: str, password: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def alert(
    status: str = "firing", alertname: str = "APIServiceDown", job: str = "ecap-api", n: int = 0
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": alertname, "job": job, "instance": f"10.0.0.{n % 250}:8080"},
        "annotations": {"summary": f"{job} is down"},
        "startsAt": "2026-11-23T10:00:00.000Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up%3D%3D0",
        "fingerprint": f"{n:016x}",
    }


def payload(alerts: list[dict[str, Any]], group_key: str = GROUP) -> dict[str, Any]:
    """A version 4 body as Alertmanager sends it, extra fields included."""
    statuses = {a["status"] for a in alerts}
    return {
        "receiver": "runbook-bot",
        "status": "firing" if "firing" in statuses else "resolved",
        "alerts": alerts,
        "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]},
        "commonLabels": {"alertname": alerts[0]["labels"]["alertname"]},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "orgId": 1,
    }


@dataclass
class AlertBot:
    api: SlackApiStandIn
    engine: Engine
    webhook: AlertWebhook
    base: str
    session: aiohttp.ClientSession

    async def post(
        self, body: object, headers: dict[str, str] | None = None
    ) -> tuple[int, str, list[str]]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        send = {"Content-Type": "application/json", **(BEARER if headers is None else headers)}
        async with self.session.post(
            self.base + "/alerts/alertmanager", data=data, headers=send
        ) as response:
            return (
                response.status,
                await response.text(),
                response.headers.getall("WWW-Authenticate", []),
            )

    async def healthy(self) -> bool:
        async with self.session.get(self.base + "/healthz") as response:
            return response.status == 200

    async def incidents(self) -> list[Incident]:
        return await self.engine.list_incidents(None)

    def texts(self, channel: str) -> str:
        return json.dumps(self.api.messages(channel))


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start("oom-bad-deploy", ready_delay=0.0) as sb:
        yield sb


@pytest.fixture
def extra_services() -> dict[str, ServiceBinding]:
    """More services beside ecap-api; tests override it with `pytest.mark.parametrize`."""
    return {}


@pytest.fixture
async def bot(
    sandbox: Sandbox, tmp_path: Path, extra_services: dict[str, ServiceBinding]
) -> AsyncIterator[AlertBot]:
    async with SlackApiStandIn() as api:
        settings = dataclasses.replace(
            Settings.from_env({}),
            slack_bot_token=api.bot_token,
            slack_signing_secret="test-signing-secret-0123456789",
            slack_api_url=api.url,
            kubeconfig=str(sandbox.write_kubeconfig(tmp_path / "kubeconfig")),
            state_path=tmp_path / "state.db",
            playbooks_dir=REPO / "playbooks",
            templates_dir=REPO / "templates",
        )
        config = Config(
            services={
                "ecap-api": ServiceBinding.model_validate(sandbox.binding()),
                **extra_services,
            },
            channels=Channels(incidents="C0GENERAL"),
            alerts=AlertsConfig(bearer_token=TOKEN, username=USER, password=PASSWORD),
        )
        async with running_engine(settings, config) as engine:
            slack = build_slack(engine, config, settings)
            webhook = AlertWebhook(engine, SlackAlertSink(slack.notifier.ctx))
            app = web_app(slack.app, engine, alerts=webhook)
            async with listening(app, "127.0.0.1", 0) as port, aiohttp.ClientSession() as session:
                yield AlertBot(api, engine, webhook, f"http://127.0.0.1:{port}", session)
                await webhook.drain()
                await slack.notifier.ctx.rooms.flush_headlines()


async def test_a_firing_alert_opens_one_incident_with_its_room_and_diagnostics(
    bot: AlertBot,
) -> None:
    status, _, _ = await bot.post(payload([alert()]))
    assert status == 200
    [incident] = await bot.incidents()
    assert (incident.playbook_id, incident.service, incident.status) == (
        "api-down",
        "ecap-api",
        "open",
    )
    assert incident.opened_by == "Alertmanager"
    assert incident.links["alert.group"] == GROUP
    created = await bot.api.wait_for("conversations.create")
    results = await bot.api.wait_for(
        "chat.postMessage", lambda c: "diagnostics:" in str(c.params.get("text"))
    )
    channel = created.response["channel"]["id"]
    assert results.params["channel"] == channel
    assert not bot.api.calls_to("conversations.invite")
    await bot.webhook.drain()
    incident = await bot.engine.get(incident.id)
    assert {"pods", "health"} <= set(incident.step_runs)
    # Diagnostics the bot ran on its own do not count as someone acknowledging.
    assert incident.acknowledged_at is None
    assert "Opened by Alertmanager" in bot.texts(channel)


@pytest.mark.parametrize(
    "extra_services",
    [
        {
            "prompt-api": ServiceBinding(platform="docker"),
            "conduit-api": ServiceBinding(platform="docker", playbooks=["api-down-docker-k8s"]),
        }
    ],
)
async def test_one_alert_name_opens_the_playbook_the_service_runs(bot: AlertBot) -> None:
    # APIDown is listed by api-down (Kubernetes), api-down-compose (Docker) and
    # api-down-docker-k8s (both): the named service's platform and bindings choose.
    for n, job in enumerate(["ecap-api", "prompt-api", "conduit-api"]):
        body = payload([alert(alertname="APIDown", job=job, n=n)], f'{{}}:{{job="{job}"}}')
        status, _, _ = await bot.post(body)
        assert status == 200
    opened = {i.service: i.playbook_id for i in await bot.incidents()}
    assert opened == {
        "ecap-api": "api-down",
        "prompt-api": "api-down-compose",
        "conduit-api": "api-down-docker-k8s",
    }


async def test_basic_auth_is_accepted(bot: AlertBot) -> None:
    status, _, _ = await bot.post(payload([alert()]), basic(USER, PASSWORD))
    assert status == 200
    assert len(await bot.incidents()) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        basic(USER, "wrong-password"),
        basic("someone", PASSWORD),
        {"Authorization": "Basic !!not-base64!!"},
        {"Authorization": TOKEN},
    ],
    ids=["none", "wrong-bearer", "bearer-as-basic", "wrong-password", "wrong-user", "junk", "bare"],
)
async def test_missing_or_wrong_credentials_are_refused(
    bot: AlertBot, headers: dict[str, str]
) -> None:
    status, text, challenges = await bot.post(payload([alert()]), headers)
    assert status == 401
    assert "\n" not in text.strip() and TOKEN not in text
    assert challenges
    assert await bot.incidents() == []
    assert await bot.healthy()


async def test_without_configured_credentials_every_request_is_refused(bot: AlertBot) -> None:
    bot.engine.config.alerts = AlertsConfig()
    status, text, challenges = await bot.post(payload([alert()]), {"Authorization": "Bearer "})
    assert (status, challenges != []) == (401, True)
    assert "not configured" in text
    assert await bot.incidents() == []


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        json.dumps([payload([alert()])]).encode(),
        json.dumps({"status": "firing", "alerts": "many"}).encode(),
        json.dumps({"alerts": [{"labels": {"alertname": "APIServiceDown"}}]}).encode(),
    ],
    ids=["truncated", "not-utf8", "a-list", "alerts-not-a-list", "no-status"],
)
async def test_malformed_bodies_get_a_one_line_400(bot: AlertBot, body: bytes) -> None:
    status, text, _ = await bot.post(body)
    assert status == 400
    assert text and "\n" not in text.strip()
    assert await bot.incidents() == []
    assert await bot.healthy()


async def test_unknown_alertname_or_service_is_acknowledged_without_an_incident(
    bot: AlertBot,
) -> None:
    assert (await bot.post(payload([alert(alertname="DiskFull")], "g-disk")))[0] == 200
    assert (await bot.post(payload([alert(job="unknown-api")], "g-unknown")))[0] == 200
    assert await bot.incidents() == []
    assert not bot.api.calls_to("conversations.create")
    # A known alert still opens afterwards.
    assert (await bot.post(payload([alert()])))[0] == 200
    assert len(await bot.incidents()) == 1


async def test_a_flood_of_one_group_opens_one_incident(bot: AlertBot) -> None:
    flood = payload([alert(n=n) for n in range(500)])
    assert (await bot.post(flood))[0] == 200
    assert (await bot.post(flood))[0] == 200
    assert len(await bot.incidents()) == 1
    await bot.webhook.drain()
    assert len(bot.api.calls_to("conversations.create")) == 1


async def test_concurrent_requests_of_one_group_open_one_incident(bot: AlertBot) -> None:
    replies = await asyncio.gather(*(bot.post(payload([alert(n=n)])) for n in range(20)))
    assert {status for status, _, _ in replies} == {200}
    assert len(await bot.incidents()) == 1


async def test_without_a_group_key_the_fingerprint_dedupes(bot: AlertBot) -> None:
    for _ in range(3):
        assert (await bot.post(payload([alert(n=7)], group_key="")))[0] == 200
    [incident] = await bot.incidents()
    assert incident.links["alert.group"] == 'runbook-bot:{alertname="APIServiceDown"}'


async def test_a_resolved_alert_offers_resolve_and_leaves_the_incident_open(
    bot: AlertBot,
) -> None:
    assert (await bot.post(payload([alert()])))[0] == 200
    await bot.webhook.drain()
    [incident] = await bot.incidents()
    channel = incident.links["slack.channel"]
    assert (await bot.post(payload([alert("resolved")])))[0] == 200
    notice = await bot.api.wait_for(
        "chat.postMessage", lambda c: "the alert has resolved" in str(c.params.get("text"))
    )
    assert notice.params["channel"] == channel
    raw = notice.params["blocks"]
    blocks = json.loads(raw) if isinstance(raw, str) else raw
    buttons = [
        element
        for block in blocks
        for element in block.get("elements") or []
        if element.get("action_id") == "rb.resolve"
    ]
    assert [json.loads(b["value"]) for b in buttons] == [{"i": incident.id}]
    # A repeated resolved notification does not post again.
    assert (await bot.post(payload([alert("resolved")])))[0] == 200
    await bot.webhook.drain()
    incident = await bot.engine.get(incident.id)
    assert incident.status == "open"
    assert [e.event for e in incident.timeline].count("alert-resolved") == 1
    assert bot.texts(channel).count("the alert has resolved") == 1


async def test_a_resolved_alert_without_an_incident_is_acknowledged(bot: AlertBot) -> None:
    assert (await bot.post(payload([alert("resolved")])))[0] == 200
    assert await bot.incidents() == []


async def test_without_a_group_key_one_webhook_opens_one_incident_and_repeats_dedupe(
    bot: AlertBot,
) -> None:
    assert (await bot.post(payload([alert(n=1), alert(n=2)], group_key="")))[0] == 200
    # A repeat delivery with one more alert of the same group.
    grown = payload([alert(n=1), alert(n=2), alert(n=3)], group_key="")
    assert (await bot.post(grown))[0] == 200
    assert len(await bot.incidents()) == 1
