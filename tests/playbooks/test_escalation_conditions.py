"""The shipped playbooks escalate on the seeds' conditions, not on plain timers, and their
messages go to the audiences the seeds name."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.playbooks.loader import load_playbooks
from bot.playbooks.models import Playbook
from bot.templates import TemplateRenderer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def playbooks() -> dict[str, Playbook]:
    return load_playbooks(REPO / "playbooks", TemplateRenderer(REPO / "templates"))


def test_api_down_escalates_on_failed_restarts_customers_data_and_security(
    playbooks: dict[str, Playbook],
) -> None:
    manager, cto = playbooks["api-down"].escalation
    # Seed 000: "Multiple failed restart attempts", "Customer escalations received".
    assert (manager.after, manager.after_failed_fixes, manager.on_flags) == (
        timedelta(minutes=15),
        2,
        ["customer-escalations"],
    )
    # "Data integrity concerns", "Security incident suspected".
    assert (cto.after, cto.on_flags) == (
        timedelta(minutes=30),
        ["data-loss", "security-suspected"],
    )


def test_no_shipped_level_fires_at_minute_0_by_time(playbooks: dict[str, Playbook]) -> None:
    for playbook in playbooks.values():
        for level in playbook.escalation:
            assert level.after != timedelta(0), (playbook.id, level.level)


def test_the_seeds_metric_conditions_are_prometheus_queries_held_for_their_time(
    playbooks: dict[str, Playbook],
) -> None:
    latency = next(lv for lv in playbooks["api-gateway-latency"].escalation if lv.metric)
    assert latency.metric is not None
    assert latency.metric.query.startswith("histogram_quantile(0.99,")
    assert latency.metric.query.endswith("> 2")
    assert latency.metric.held_for == timedelta(minutes=10)

    down = next(lv for lv in playbooks["api-gateway-down"].escalation if lv.metric)
    assert down.metric is not None
    assert "kube_deployment_status_replicas_available" in down.metric.query
    assert down.metric.query.endswith("== 0")
    assert (down.metric.held_for, down.page) == (timedelta(minutes=5), True)


@pytest.mark.parametrize(
    ("playbook_id", "level"),
    [
        ("api-gateway-down", 3),  # "page Platform Team Lead immediately"
        ("api-gateway-auth-failures", 4),  # "Data loss: Page CTO/VP Engineering"
        ("api-gateway-rate-limiting", 3),  # "15+ minutes or critical issue: Page ..."
        ("api-down-docker-k8s", 2),  # "Page the on-call engineer"
    ],
)
def test_levels_the_seeds_page_say_page(
    playbooks: dict[str, Playbook], playbook_id: str, level: int
) -> None:
    found = {lv.level: lv for lv in playbooks[playbook_id].escalation}
    assert found[level].page


def test_data_loss_pages_the_cto_in_the_auth_failures_playbook(
    playbooks: dict[str, Playbook],
) -> None:
    levels = {lv.level: lv for lv in playbooks["api-gateway-auth-failures"].escalation}
    assert (levels[4].title, levels[4].after, levels[4].on_flags) == (
        "CTO/VP Engineering",
        None,
        ["data-loss"],
    )


def test_messages_go_to_the_audiences_the_seeds_name(playbooks: dict[str, Playbook]) -> None:
    initial = playbooks["api-down"].communications["initial"]
    # Seed 000: 'Update status page: "Investigating ..."' and 'Notify #incidents channel'.
    assert {"status-page", "incidents-channel"} <= set(initial.audience)
    assert playbooks["api-down-compose"].communications["acknowledged"].audience == ["internal"]
    for playbook in playbooks.values():
        security = playbook.communications.get("security")
        if security is not None:
            assert security.audience == ["internal"], playbook.id


def _with_message(audience: list[str], step_audience: str, impact: str | None) -> dict[str, object]:
    step = {
        "id": "notify",
        "kind": "communication",
        "title": "Notify",
        "template": "note",
        "audience": step_audience,
    }
    message: dict[str, object] = {"title": "Note", "template": "x.md.j2", "audience": audience}
    if impact is not None:
        message["impact"] = impact
    return {
        "id": "messages",
        "title": "Messages",
        "severity": "high",
        "platform": "kubernetes",
        "stages": [{"id": "talk", "title": "Talk", "steps": [step]}],
        "communications": {"note": message},
    }


def test_a_step_audience_must_be_one_its_message_reaches() -> None:
    Playbook.model_validate(_with_message(["internal", "status-page"], "status-page", "major"))
    with pytest.raises(ValueError, match="is for the status-page audience but communication"):
        Playbook.model_validate(_with_message(["internal"], "status-page", None))
    with pytest.raises(ValueError, match="an impact needs the status-page audience"):
        Playbook.model_validate(_with_message(["internal"], "internal", "major"))
