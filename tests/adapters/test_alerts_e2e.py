"""End to end: real Prometheus sees the API target stop, real Alertmanager posts the alert to the
bot, and the incident appears in the Slack stand-in with its first diagnostics; when the target
comes back, the resolved notice appears and the incident stays open."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.adapters import alerts as alert_webhook
from bot.adapters.alerts import AlertWebhook
from bot.adapters.slack import actions
from bot.adapters.slack.factory import build_slack
from bot.adapters.slack.listeners.alert_sink import SlackAlertSink
from bot.adapters.web import listening, web_app
from bot.app import running_engine
from bot.config import AlertsConfig, Channels, Config, ServiceBinding
from bot.drills.kubernetes import Sandbox
from bot.engine.engine import Engine
from bot.engine.incident import Incident
from bot.settings import Settings
from tests.support.prometheus import (
    Alertmanager,
    AlertRule,
    MetricsTarget,
    Prometheus,
    eventually,
    require_prometheus,
)
from tests.support.slack_api import ApiCall, SlackApiStandIn

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TOKEN = "alert-e2e-token-0123456789"
RULE = AlertRule(
    "APIServiceDown", 'up{job="ecap-api"} == 0', "1s", {"job": "ecap-api", "severity": "critical"}
)
# Bounds a hang on a loaded shared box; not a performance check.
WAIT_S = 60.0


def posted(text: str) -> Any:
    """A wait_for predicate: a chat.postMessage whose fallback text contains `text`."""
    return lambda call: text in str(call.params.get("text"))


def blocks_of(call: ApiCall) -> list[dict[str, Any]]:
    raw = call.params.get("blocks") or []
    blocks: list[dict[str, Any]] = json.loads(raw) if isinstance(raw, str) else raw
    return blocks


def buttons(call: ApiCall) -> list[dict[str, Any]]:
    return [e for block in blocks_of(call) for e in block.get("elements") or [] if "action_id" in e]


async def only_incident(engine: Engine) -> Incident:
    async def probe() -> Incident | None:
        found = await engine.list_incidents(None)
        assert len(found) <= 1, [i.id for i in found]
        return found[0] if found else None

    return await eventually(probe, "an incident opened by the alert", WAIT_S)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start("oom-bad-deploy", ready_delay=0.0) as sb:
        yield sb


async def test_prometheus_alert_opens_incident_and_resolved_notice_follows(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    require_prometheus()
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
            services={"ecap-api": ServiceBinding.model_validate(sandbox.binding())},
            channels=Channels(incidents="C0GENERAL"),
            alerts=AlertsConfig(bearer_token=TOKEN),
        )
        async with running_engine(settings, config) as engine:
            slack = build_slack(engine, config, settings)
            webhook = AlertWebhook(engine, SlackAlertSink(slack.notifier.ctx))
            app = web_app(slack.app, engine, alerts=webhook)
            async with listening(app, "127.0.0.1", 0) as port:
                url = f"http://127.0.0.1:{port}{alert_webhook.ALERTS_PATH}"
                await through_prometheus(api, engine, url)
                await webhook.drain()
                await slack.notifier.ctx.rooms.flush_headlines()


async def through_prometheus(api: SlackApiStandIn, engine: Engine, webhook_url: str) -> None:
    async with (
        MetricsTarget() as target,
        Alertmanager(webhook_url=webhook_url, bearer_token=TOKEN) as alertmanager,
        Prometheus(
            jobs={"ecap-api": [target.address]}, rules=[RULE], alertmanager=alertmanager.address
        ) as prometheus,
        aiohttp.ClientSession() as session,
    ):
        await prometheus.wait_for_value(session, 'up{job="ecap-api"}', "1")
        assert await engine.list_incidents(None) == []

        await target.stop()
        incident = await only_incident(engine)
        assert (incident.playbook_id, incident.service, incident.status) == (
            "api-down",
            "ecap-api",
            "open",
        )
        assert incident.opened_by == "Alertmanager"
        created = await api.wait_for("conversations.create", timeout=WAIT_S)
        room = created.response["channel"]["id"]
        opened = await api.wait_for("chat.postMessage", posted("Opened by Alertmanager"), WAIT_S)
        assert opened.params["channel"] == room
        assert "APIServiceDown" in json.dumps(blocks_of(opened))
        results = await api.wait_for("chat.postMessage", posted("diagnostics:"), WAIT_S)
        assert results.params["channel"] == room
        ran = (await engine.get(incident.id)).step_runs
        assert {"pods", "health"} <= set(ran), sorted(ran)

        await target.start()
        notice = await api.wait_for("chat.postMessage", posted("has resolved"), WAIT_S)
        assert notice.params["channel"] == room
        [resolve] = [b for b in buttons(notice) if b["action_id"] == actions.RESOLVE]
        assert incident.id in resolve["value"]

    # The alert resolving tells the responders; only a person resolves the incident.
    [still] = await engine.list_incidents(None)
    assert (still.id, still.status) == (incident.id, "open")
