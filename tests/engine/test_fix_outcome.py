"""A fix is applied, applied with a failed verification, or failed: on every surface alike."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters import text
from bot.adapters.slack.rendering.blocks import headline_message
from bot.adapters.slack.rendering.run_blocks import approval_message
from bot.adapters.slack.rendering.stage_blocks import step_state
from bot.adapters.slack.rendering.summary import resolution_message
from bot.config import Config, ServiceBinding
from bot.engine.headline import headline
from bot.engine.incident import BOT, Actor, Approval, Incident
from bot.engine.outcome import fix_outcome
from bot.engine.template_data import template_context
from bot.engine.timers import progress
from bot.executors.base import CheckResult, Preview
from bot.playbooks.loader import load_playbooks
from bot.playbooks.models import Playbook
from bot.templates import TemplateRenderer

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = TemplateRenderer(REPO / "templates")
OPENED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ONCALL = Actor(id="oncall", name="oncall")
CONFIG = Config(
    services={
        "api": ServiceBinding.model_validate(
            {"platform": "docker", "container": "api-server", "health_url": "http://h/v1/health"}
        )
    }
)


@pytest.fixture(scope="module")
def playbooks() -> dict[str, Playbook]:
    return load_playbooks(REPO / "playbooks", TEMPLATES)


def _approval(
    n: int, step: str, title: str, state: str, result: str, verified: str | None
) -> Approval:
    at = OPENED + timedelta(minutes=n)
    return Approval(
        id=f"A{n}",
        step_id=step,
        title=title,
        destructive=False,
        preview=Preview(summary=f"dry run of {title}"),
        requested_by=ONCALL,
        requested_at=at,
        expires_at=at + timedelta(minutes=30),
        state=state,
        decided_by=ONCALL,
        decided_at=at,
        result=CheckResult(status="ok" if state == "applied" else "error", summary=result),
        verification=CheckResult(
            status=verified, summary="api-server: exited (code 137, OOM killed)"
        )
        if verified
        else None,
    )


def _incident(playbook_id: str) -> Incident:
    incident = Incident(
        id="INC-0007",
        playbook_id=playbook_id,
        service="api",
        severity="critical",
        opened_at=OPENED,
        opened_by="oncall",
    )
    fixes = [
        _approval(
            1, "crash-restart", "Restart the service", "applied", "restarted api-server", "problem"
        ),
        _approval(
            2, "db-start", "Start the database", "failed", "No such container: postgres", None
        ),
        _approval(
            3, "oom-raise-limit", "Increase the memory limit to 4g", "applied", "set 4096 MiB", "ok"
        ),
    ]
    for approval in fixes:
        incident.approvals[approval.id] = approval
        event = "fix-applied" if approval.state == "applied" else "fix-failed"
        incident.record(approval.decided_at or OPENED, BOT, event, approval.title, approval.step_id)
    return incident


def test_each_fix_has_one_honest_outcome() -> None:
    incident = _incident("api-down-compose")
    assert [fix_outcome(a) for a in incident.approvals.values()] == [
        "applied, verification failed",
        "failed",
        "applied",
    ]
    # A state added later (a fix cut off by a crash) shows by its name, never as applied.
    cut = incident.approvals["A1"].model_copy(update={"state": "approved", "verification": None})
    assert fix_outcome(cut) == "approved"
    assert fix_outcome(cut.model_copy(update={"state": "interrupted"})) == "interrupted"


def test_console_shows_every_fix_as_it_ended(playbooks: dict[str, Playbook]) -> None:
    incident = _incident("api-down-compose")
    playbook = playbooks["api-down-compose"]
    verification_failed = text.render_approval(incident.approvals["A1"])
    assert "(Restart the service): applied, verification failed; approved by oncall" in (
        verification_failed
    )
    assert "(Start the database): failed by oncall" in text.render_approval(
        incident.approvals["A2"]
    )
    shown = text.render_headline(headline(incident, playbook, OPENED + timedelta(minutes=9)))
    assert (
        "fixes: A1 Restart the service: applied, verification failed; "
        "A2 Start the database: failed; A3 Increase the memory limit to 4g: applied"
    ) in shown
    causes = playbook.stages[2]
    stage = text.render_stage(causes, incident, 3, len(playbook.stages))
    assert "[applied, verification failed] A1" in stage
    assert "[failed] A2" in stage
    assert progress(incident, OPENED + timedelta(minutes=16)) == (
        "open 16 min; fixes tried: Restart the service (applied, verification failed), "
        "Start the database (failed), Increase the memory limit to 4g (applied); "
        "0 diagnostic run(s)"
    )


def test_slack_shows_every_fix_as_it_ended(playbooks: dict[str, Playbook]) -> None:
    incident = _incident("api-down-compose")
    playbook = playbooks["api-down-compose"]
    pinned = json.dumps(
        [b.to_dict() for b in headline_message(headline(incident, playbook, OPENED)).blocks]
    )
    assert "A1 Restart the service: applied, verification failed" in pinned
    assert "A2 Start the database: failed" in pinned
    assert "A3 Increase the memory limit to 4g: applied" in pinned

    verification = json.dumps(
        [b.to_dict() for b in approval_message(incident, incident.approvals["A1"]).blocks]
    )
    assert ":warning: *Applied, verification failed*" in verification
    assert "*Applied*" not in verification
    failed = approval_message(incident, incident.approvals["A2"])
    assert "(failed)" in failed.text
    assert ":x: *Failed*" in json.dumps([b.to_dict() for b in failed.blocks])

    resolved = json.dumps([b.to_dict() for b in resolution_message(incident, "oncall").blocks])
    assert "Restart the service: applied, verification failed" in resolved
    assert "Start the database: failed" in resolved

    step = playbook.find_step("crash-restart")
    assert step is not None
    assert "fix applied, verification failed" in step_state(step[1], incident)
    # A second try of the same step shows after the first, not instead of it.
    again = _approval(4, "crash-restart", "Restart the service", "applied", "restarted", "ok")
    incident.approvals[again.id] = again
    assert "fix applied, verification failed, then applied" in step_state(step[1], incident)


@pytest.mark.parametrize(
    ("playbook_id", "template"),
    [
        ("api-down-compose", "api-down-compose/update.md.j2"),
        ("api-down", "api-down/update.md.j2"),
        ("api-down-docker-k8s", "api-down-docker-k8s/update.md.j2"),
        ("api-gateway-5xx", "api-gateway/update.md.j2"),
        ("api-down-compose", "api-down-compose/post-incident.md.j2"),
        ("api-down", "post-incident.md.j2"),
    ],
)
def test_status_updates_and_the_document_say_how_each_fix_ended(
    playbooks: dict[str, Playbook], playbook_id: str, template: str
) -> None:
    incident = _incident(playbook_id)
    context = template_context(
        incident, playbooks[playbook_id], CONFIG, OPENED + timedelta(hours=1)
    )
    body = TEMPLATES.render(template, context)
    assert "Restart the service: applied, verification failed (restarted api-server)" in body
    assert "verification: api-server: exited (code 137, OOM killed)" in body
    assert "Start the database: failed (No such container: postgres)" in body
    assert "Increase the memory limit to 4g: applied (set 4096 MiB)" in body
    assert "Start the database: applied" not in body
    # Each fix is a line of its own: none runs into the next or into the closing sentence.
    titles = ("Restart the service", "Start the database", "Increase the memory limit to 4g")
    for line in body.splitlines():
        named = [title for title in titles if f"{title}: " in line]
        assert len(named) <= 1 and not (named and "Next update" in line), line


def test_the_gateway_update_keeps_the_playbook_title_as_written(
    playbooks: dict[str, Playbook],
) -> None:
    playbook = playbooks["api-gateway-5xx"]
    context = template_context(_incident(playbook.id), playbook, CONFIG, OPENED)
    body = TEMPLATES.render("api-gateway/update.md.j2", context)
    assert f"API gateway issue: {playbook.title}." in body
    assert playbook.title != playbook.title.lower()
