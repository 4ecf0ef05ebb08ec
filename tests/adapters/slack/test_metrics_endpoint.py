"""`GET /metrics` after a whole incident driven through the real server, as Slack drives it.

The registry is the process's, as in the running bot, so every assertion is on how much a
series grew while this test ran.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
import yaml

from bot.adapters.slack import actions
from bot.adapters.slack.factory import build_slack
from bot.adapters.web import listening, web_app
from bot.app import running_engine
from bot.config import Channels, Config, ServiceBinding
from bot.drills.kubernetes import Sandbox
from bot.engine.incident import Incident
from bot.engine.scheduler import Scheduler
from tests.adapters.slack.conftest import (
    ALICE,
    BOB,
    CAROL,
    REPO,
    SlackBot,
    bot_settings,
)
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_signing import block_action_body, new_trigger_id

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
_LABEL = re.compile(r'(?P<key>[a-zA-Z_][a-zA-Z0-9_]*)="(?P<value>(?:[^"\\]|\\.)*)"')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def parse(text: str) -> tuple[Series, dict[str, str]]:
    """Samples by name and label set, and each metric's TYPE."""
    samples: Series = {}
    types: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        found = _SAMPLE.match(line)
        assert found, f"not a sample line: {line!r}"
        labels = frozenset(
            (m["key"], re.sub(r"\\[\\\"n]", lambda e: _UNESCAPE[e[0]], m["value"]))
            for m in _LABEL.finditer(found["labels"] or "")
        )
        samples[(found["name"], labels)] = float(found["value"])
    return samples, types


def grew(before: Series, after: Series, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    assert key in after, f"no series {name}{labels}; have {sorted(k for k, _ in after)}"
    return after[key] - before.get(key, 0.0)


@dataclasses.dataclass
class Bot:
    slack: SlackBot
    metrics_url: str
    events_sent: list[str]

    async def metrics(self) -> tuple[Series, dict[str, str]]:
        async with aiohttp.ClientSession() as session, session.get(self.metrics_url) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            return parse(await response.text())


def fast_escalation(directory: Path) -> Path:
    """The api-down playbook with its first escalation level due a second after opening."""
    playbook = yaml.safe_load((REPO / "playbooks" / "api-down.yml").read_text(encoding="utf-8"))
    playbook["escalation"][0]["after"] = "1s"
    directory.mkdir()
    (directory / "api-down.yml").write_text(yaml.safe_dump(playbook), encoding="utf-8")
    return directory


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    events_sent: list[str] = []

    async def count_events(
        session: aiohttp.ClientSession, context: SimpleNamespace, params: Any
    ) -> None:
        if params.method == "POST" and params.url.path == "/slack/events":
            events_sent.append(params.url.path)

    tracing = aiohttp.TraceConfig()
    tracing.on_request_start.append(count_events)
    with Sandbox.start("oom-bad-deploy", ready_delay=0.0) as sandbox:
        async with SlackApiStandIn() as api:
            api.add_user(BOB, "bob")
            api.add_user(CAROL, "carol")
            settings = bot_settings(api, sandbox, tmp_path, fast_escalation(tmp_path / "playbooks"))
            config = Config(
                services={"ecap-api": ServiceBinding.model_validate(sandbox.binding())},
                approvers=[ALICE, BOB],
                channels=Channels(incidents="C0GENERAL"),
            )
            async with running_engine(settings, config) as engine:
                slack = build_slack(engine, config, settings)
                app = web_app(slack.app, engine, slack_events=True)
                async with (
                    Scheduler(engine, slack.notifier, owner="test-metrics"),
                    listening(app, "127.0.0.1", 0) as port,
                    aiohttp.ClientSession(trace_configs=[tracing]) as session,
                ):
                    origin = f"http://127.0.0.1:{port}"
                    driver = SlackBot(api, engine, sandbox, f"{origin}/slack/events", session)
                    yield Bot(driver, f"{origin}/metrics", events_sent)


# Generous: bounds a hang on the shared 2-core box; nothing asserts how long anything takes.
TIMEOUT_S = 60.0


async def _until(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT_S
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def _eventually(bot: SlackBot, check: Callable[[Incident], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT_S
    while not check(await bot.engine.get("INC-0001")):
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def _state(incident: Incident, approval_id: str) -> str | None:
    approval = incident.approvals.get(approval_id)
    return approval.state if approval else None


async def test_metrics_count_a_whole_incident(bot: Bot) -> None:
    before, _ = await bot.metrics()
    slack, api = bot.slack, bot.slack.api

    # Open; the next message the bot posts is answered 429 once, and retried.
    api.rate_limit("chat.postMessage", retry_after=1)
    ack = await slack.command("api-down ecap-api the API answers 503")
    assert "Opening" in ack["text"]
    created = await api.wait_for("conversations.create")
    channel = str(created.response["channel"]["id"])
    await api.wait_for("chat.postMessage", lambda c: "Run diagnostics" in json.dumps(c.params))
    assert next(c.status for c in api.calls_to("chat.postMessage")) == 429

    # Diagnose, then request, deny, request again and approve the rollback.
    assert await slack.click(slack.button(channel, actions.RUN_STAGE)) == 200
    await _until(lambda: "Resource exhaustion" in slack.texts(channel), "the diagnostics")
    assert await slack.click(slack.button(channel, actions.REQUEST_FIX, "rollback")) == 200
    await _until(lambda: bool(slack.buttons(channel, actions.DENY)), "the approval request")
    assert await slack.click(slack.button(channel, actions.DENY), user=BOB) == 200
    await _eventually(slack, lambda i: _state(i, "A1") == "denied", "the denial")
    assert await slack.click(slack.button(channel, actions.REQUEST_FIX, "rollback")) == 200
    await _eventually(slack, lambda i: _state(i, "A2") == "pending", "the second request")
    # The request is stored before its message (and button) is posted.
    await _until(lambda: bool(slack.buttons(channel, actions.APPROVE)), "the approve button")
    approve = slack.button(channel, actions.APPROVE)
    await asyncio.gather(slack.click(approve, user=BOB), slack.click(approve, user=ALICE))
    await _eventually(slack, lambda i: _state(i, "A2") == "applied", "the rollback")

    # The first level's nudge, due a second after opening, fires.
    await _eventually(slack, lambda i: bool(i.timers.fired), "the escalation nudge")

    # Resolving: the first try's trigger has expired (Slack answers an error), the second works.
    resolve = slack.button(channel, actions.RESOLVE)
    expired = new_trigger_id()
    api.expire_trigger(expired)
    body = block_action_body(
        action_id=resolve["action_id"],
        value=resolve.get("value", ""),
        response_url=api.response_url(channel),
        user_id=ALICE,
        channel_id=channel,
        message_ts=resolve["_ts"],
        trigger_id=expired,
    )
    assert (await slack.send(body)).status == 200
    await api.wait_for("views.open", lambda c: c.response.get("error") == "expired_trigger_id")
    assert await slack.click(resolve) == 200
    await api.wait_for("views.open", lambda c: c.response.get("ok") is True)
    values = {
        "c": {actions.RESOLVE_CAUSE: {"type": "plain_text_input", "value": "2.5.0 needs memory"}},
        "r": {actions.RESOLVE_RESOLUTION: {"type": "plain_text_input", "value": "rolled back"}},
    }
    assert await slack.submit(actions.RESOLVE_VIEW, "INC-0001", values) == 200
    await _eventually(slack, lambda i: i.status == "resolved", "the resolution")
    incident = await slack.engine.get("INC-0001")

    after, types = await bot.metrics()
    playbook = {"playbook": "api-down"}
    assert grew(before, after, "runbook_bot_incidents_opened_total", **playbook) == 1
    assert grew(before, after, "runbook_bot_incidents_resolved_total", **playbook) == 1

    ran = [run.status for run in incident.step_runs.values()]
    assert ran, "the stage ran diagnostics"
    for result in set(ran):
        counted = grew(before, after, "runbook_bot_diagnostics_total", result=result, **playbook)
        assert counted == ran.count(result), result

    # Two clicks on Approve run the fix once; the denied request counts as denied.
    assert grew(before, after, "runbook_bot_fixes_total", result="applied", **playbook) == 1
    assert grew(before, after, "runbook_bot_fixes_total", result="denied", **playbook) == 1
    failed = ("runbook_bot_fixes_total", frozenset({"result": "failed", **playbook}.items()))
    assert after.get(failed, 0.0) == before.get(failed, 0.0)

    sent = len(bot.events_sent)
    assert sent >= 8
    assert grew(before, after, "runbook_bot_ack_latency_seconds_count") == sent
    assert grew(before, after, "runbook_bot_ack_latency_seconds_bucket", le="+Inf") == sent
    assert grew(before, after, "runbook_bot_ack_latency_seconds_sum") > 0

    errors = grew(
        before,
        after,
        "runbook_bot_slack_api_errors_total",
        method="views.open",
        error="expired_trigger_id",
    )
    assert errors == 1
    limited = grew(before, after, "runbook_bot_slack_rate_limited_total", method="chat.postMessage")
    assert limited == 1

    # Method labels stay a bounded set: file upload URLs, one per file, are not methods.
    methods = {
        dict(labels)["method"]
        for (name, labels), value in after.items()
        if name.startswith("runbook_bot_slack_") and value > before.get((name, labels), 0.0)
    }
    assert methods and all(re.fullmatch(r"[a-z]+(\.[a-zA-Z]+)+", m) for m in methods), methods

    assert grew(before, after, "runbook_bot_timer_lateness_seconds_count") == 1
    assert grew(before, after, "runbook_bot_timer_lateness_seconds_sum") >= 0

    assert (
        types.items()
        >= {
            "runbook_bot_incidents_opened_total": "counter",
            "runbook_bot_incidents_resolved_total": "counter",
            "runbook_bot_diagnostics_total": "counter",
            "runbook_bot_fixes_total": "counter",
            "runbook_bot_ack_latency_seconds": "histogram",
            "runbook_bot_slack_api_errors_total": "counter",
            "runbook_bot_slack_rate_limited_total": "counter",
            "runbook_bot_timer_lateness_seconds": "histogram",
        }.items()
    )

    # prometheus_client's process, GC and platform collectors report on the bot's own process.
    assert (
        types.items()
        >= {
            "process_cpu_seconds_total": "counter",
            "process_resident_memory_bytes": "gauge",
            "process_start_time_seconds": "gauge",
            "process_open_fds": "gauge",
            "python_gc_collections_total": "counter",
            "python_info": "gauge",
        }.items()
    )
    assert after[("process_resident_memory_bytes", frozenset())] > 0
    assert grew(before, after, "process_cpu_seconds_total") > 0
    assert after[("process_start_time_seconds", frozenset())] <= time.time()
    assert grew(before, after, "python_gc_collections_total", generation="0") >= 0
    assert any(name == "python_info" and value == 1 for (name, _), value in after.items())


async def test_metrics_answers_without_slack_or_a_signature(bot: Bot) -> None:
    """Prometheus scrapes without Slack's signature; a bad Slack request is still timed."""
    before, _ = await bot.metrics()
    async with bot.slack.session.post(bot.slack.url, data=b"x=1") as refused:
        assert refused.status == 401
    after, _ = await bot.metrics()
    assert grew(before, after, "runbook_bot_ack_latency_seconds_count") == 1
