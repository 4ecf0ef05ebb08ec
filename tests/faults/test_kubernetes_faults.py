"""Faults of the Kubernetes API during a stage's diagnostics, clicked through the real endpoint:
unreachable and slow. The ack lands in time, each diagnostic says why in one line, and the stage
still completes with every result recorded once."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.adapters.slack import actions
from bot.adapters.slack.factory import build_slack
from bot.adapters.web import listening, web_app
from bot.app import running_engine
from bot.config import Channels, Config, ServiceBinding
from bot.drills.kubernetes import Sandbox
from bot.engine.incident import Incident
from bot.playbooks.models import DiagnosticStep
from tests.adapters.slack.conftest import ALICE, SlackBot, bot_settings
from tests.support.slack_api import SlackApiStandIn

pytestmark = pytest.mark.slow

SLACK_ACK_DEADLINE_S = 3.0
# The Kubernetes client's own per-call timeout (KubernetesExecutor's default).
KUBE_TIMEOUT_S = 10.0


@dataclass
class Cluster:
    sandbox: Sandbox
    stopped: bool = False

    def stop(self) -> None:
        self.sandbox.stop()
        self.stopped = True


@pytest.fixture
async def kube_bot(tmp_path: Path) -> AsyncIterator[tuple[SlackBot, Cluster]]:
    cluster = Cluster(Sandbox.start("oom-bad-deploy", ready_delay=0.0))
    try:
        async with SlackApiStandIn() as api:
            settings = bot_settings(api, cluster.sandbox, tmp_path)
            config = Config(
                services={"ecap-api": ServiceBinding.model_validate(cluster.sandbox.binding())},
                approvers=[ALICE],
                channels=Channels(incidents="C0GENERAL"),
            )
            async with running_engine(settings, config) as engine:
                bolt = build_slack(engine, config, settings).app
                app = web_app(bolt, engine, slack_events=True)
                async with (
                    listening(app, "127.0.0.1", 0) as port,
                    aiohttp.ClientSession() as session,
                ):
                    url = f"http://127.0.0.1:{port}/slack/events"
                    yield SlackBot(api, engine, cluster.sandbox, url, session), cluster
    finally:
        if not cluster.stopped:
            cluster.sandbox.set_latency(0.0)
            cluster.stop()


async def _open(bot: SlackBot) -> str:
    await bot.command("api-down ecap-api the API answers 503")
    await bot.api.wait_for("response_url", lambda c: "Opened INC-" in str(c.params.get("text")))
    return str((await bot.engine.get("INC-0001")).links["slack.channel"])


async def _run_stage(bot: SlackBot, channel: str, within_s: float) -> tuple[float, str]:
    """Clicks Run diagnostics; returns the seconds until the results and their message."""
    started = time.monotonic()
    assert await bot.click(bot.button(channel, actions.RUN_STAGE), channel=channel) == 200
    assert time.monotonic() - started < SLACK_ACK_DEADLINE_S
    results = await bot.api.wait_for(
        "chat.postMessage", lambda c: "diagnostics:" in str(c.params.get("text")), within_s
    )
    return time.monotonic() - started, json.dumps(results.params)


def _stage_diagnostics(bot: SlackBot, incident: Incident) -> list[str]:
    stage = bot.engine.stage(incident)
    return [s.id for s in stage.all_steps() if isinstance(s, DiagnosticStep)]


async def test_unreachable_cluster_is_said_at_once_and_the_stage_completes(
    kube_bot: tuple[SlackBot, Cluster],
) -> None:
    bot, cluster = kube_bot
    channel = await _open(bot)
    cluster.stop()

    elapsed, results = await _run_stage(bot, channel, within_s=30.0)
    assert elapsed < KUBE_TIMEOUT_S, "a refused connection is reported without waiting"
    assert "cluster unreachable at https://127.0.0.1:" in results
    incident = await bot.engine.get("INC-0001")
    runs = {i: incident.step_runs[i] for i in _stage_diagnostics(bot, incident)}
    assert runs, "every diagnostic of the stage has its result"
    assert all("\n" not in run.summary for run in runs.values())
    assert any(run.summary.startswith("cluster unreachable at") for run in runs.values())
    timeline = [e for e in incident.timeline if e.event == "diagnostic"]
    assert len(timeline) == len(runs), "each result recorded once"


async def test_slow_cluster_times_out_in_one_line_and_the_stage_completes(
    kube_bot: tuple[SlackBot, Cluster],
) -> None:
    bot, cluster = kube_bot
    channel = await _open(bot)
    cluster.sandbox.set_latency(KUBE_TIMEOUT_S + 1)

    _, results = await _run_stage(bot, channel, within_s=3 * KUBE_TIMEOUT_S)
    cluster.sandbox.set_latency(0.0)
    assert "timed out after" in results
    incident = await bot.engine.get("INC-0001")
    runs = {i: incident.step_runs[i] for i in _stage_diagnostics(bot, incident)}
    assert all("\n" not in run.summary for run in runs.values())
    assert any("timed out after" in run.summary for run in runs.values())
    timeline = [e for e in incident.timeline if e.event == "diagnostic"]
    assert len(timeline) == len(runs), "each result recorded once"
