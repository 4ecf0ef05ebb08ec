"""Playbook models: durations as runbooks write them, and symptoms that say what they test."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from bot.playbooks.duration import format_duration, humanize, parse_duration
from bot.playbooks.models import DiagnosticStep, Stage, Symptom, Window


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("24h", timedelta(hours=24)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("0m", timedelta(0)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "junk", ["5 minutes", "", "   ", "m5", "5", "-5m", "1.5h", "5M", "5mm", "h", 5, None, True]
)
def test_junk_is_not_a_duration(junk: Any) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(junk)


@pytest.mark.parametrize("text", ["30s", "5m", "15m", "1h30m", "1d", "1w", "1w2d3h4m5s"])
def test_durations_format_back_to_what_was_written(text: str) -> None:
    assert format_duration(parse_duration(text)) == text


def test_durations_read_for_people() -> None:
    assert humanize(timedelta(seconds=40)) == "40 s"
    assert humanize(timedelta(minutes=12, seconds=59)) == "12 min"
    assert humanize(timedelta(hours=1, minutes=5)) == "1 h 5 min"


def diagnostic() -> dict[str, Any]:
    return {"id": "pods", "title": "Pods", "kind": "diagnostic", "action": {"type": "k8s.pods"}}


def test_a_step_timeout_is_a_duration() -> None:
    step = DiagnosticStep.model_validate({**diagnostic(), "timeout": "45s"})
    assert step.timeout == timedelta(seconds=45)
    assert step.model_dump(mode="json")["timeout"] == "45s"
    assert DiagnosticStep.model_validate(diagnostic()).timeout == timedelta(seconds=10)
    with pytest.raises(ValidationError, match="not a duration"):
        DiagnosticStep.model_validate({**diagnostic(), "timeout": "soon"})


def test_a_window_ends_after_it_starts() -> None:
    assert Window.model_validate({"start": "5m", "end": "15m"}).end == timedelta(minutes=15)
    with pytest.raises(ValidationError, match="window end must be after its start"):
        Window.model_validate({"start": "15m", "end": "5m"})


def test_a_stage_needs_steps_or_root_causes() -> None:
    with pytest.raises(ValidationError, match="a stage needs steps or root causes"):
        Stage.model_validate({"id": "empty", "title": "Empty"})


@pytest.mark.parametrize(
    "fields",
    [
        {"text": "Slow query performance"},
        {"text": "Pending", "finding": "pod.phase", "equals": "Pending"},
        {"text": "Unreachable", "finding": "tcp.reachable", "equals": False},
        {"text": "No restarts", "finding": "pod.restarts", "equals": 0},
        {"text": "Not running", "finding": "pod.phase", "not_equals": "Running"},
        {"text": "Timeouts", "finding": "logs.text", "contains": "timeout"},
        {"text": "Hot", "finding": "pod.memory_percent", "at_least": 90},
        {"text": "Idle", "finding": "pod.memory_percent", "at_most": 5},
        {"text": "From one step", "step": "pods", "finding": "pod.ready", "equals": False},
        {"text": "Every pod", "finding": "pod.phase", "equals": "Pending", "all": True},
        {"text": "Running", "finding": "docker.running", "equals": True, "rules_out": True},
    ],
)
def test_symptoms_with_one_operator_or_none_are_valid(fields: dict[str, Any]) -> None:
    assert Symptom.model_validate(fields).text == fields["text"]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"text": "x", "finding": "pod.phase"}, "needs exactly one operator"),
        (
            {"text": "x", "finding": "pod.phase", "equals": "Pending", "contains": "Pend"},
            "needs exactly one operator",
        ),
        ({"text": "x", "equals": "Pending"}, "an operator needs a finding"),
        ({"text": "x", "step": "pods"}, "an operator needs a finding"),
        ({"text": "x", "finding": "pod.phase", "matches": "Pending"}, "Extra inputs"),
        ({"text": "x", "all": True}, "`all` and `rules_out` need a finding"),
        ({"text": "x", "rules_out": True}, "`all` and `rules_out` need a finding"),
        (
            {"text": "x", "finding": "pod.phase", "equals": "Pending", "rule_out": True},
            "Extra inputs",
        ),
    ],
)
def test_symptoms_without_exactly_one_operator_are_refused(
    fields: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValidationError, match=reason):
        Symptom.model_validate(fields)
