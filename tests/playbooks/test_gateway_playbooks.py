"""The API gateway's six playbooks (seed 004): what the runbook says, as the engine will use it.

The drills run the real `runbook-bot drill` against the sandbox cluster; the rest reads the
playbooks as the bot loads them and asks the engine's own root-cause matcher and renderer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.config import Config
from bot.drills.kubernetes import list_scenarios
from bot.engine.incident import Incident, StepRun
from bot.engine.root_causes import suggest_causes
from bot.engine.template_data import template_context
from bot.executors.base import Finding
from bot.executors.params import PLACEHOLDER
from bot.playbooks.loader import load_playbooks
from bot.playbooks.models import DiagnosticStep, FixStep, Playbook, VerificationStep
from bot.templates import TemplateRenderer
from tests.playbooks.test_seed_coverage import commands
from tests.scenarios.conftest import READY_DELAY, Transcript, bot_env, run_bot

ROOT = Path(__file__).resolve().parents[2]
TABLE = Path(__file__).parent / "seed_coverage" / "004.yml"
SEED = Path(__file__).parent / "seeds" / "004_eabcea5e36a2fcda.txt"
INCIDENTS = [
    "api-gateway-5xx",
    "api-gateway-latency",
    "api-gateway-down",
    "api-gateway-auth-failures",
    "api-gateway-rate-limiting",
]
GATEWAY = [*INCIDENTS, "api-gateway-operations"]
# Writes that lose data, stop traffic or delete things: a second approver must confirm them.
DESTRUCTIVE_ACTIONS = {"k8s.delete_pod", "k8s.patch_service_selector", "redis.flushdb"}
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def renderer() -> TemplateRenderer:
    return TemplateRenderer(ROOT / "templates")


@pytest.fixture(scope="module")
def playbooks(renderer: TemplateRenderer) -> dict[str, Playbook]:
    found = load_playbooks(ROOT / "playbooks", renderer)
    return {name: found[name] for name in GATEWAY}


def incident_with(playbook: Playbook, runs: dict[str, list[Finding]]) -> Incident:
    """An open incident whose diagnostics (step id -> findings) have run."""
    return Incident(
        id="INC-0042",
        playbook_id=playbook.id,
        service="api-gateway",
        severity=playbook.severity,
        opened_at=NOW - timedelta(minutes=7),
        opened_by="oncall",
        step_runs={
            step: StepRun(
                step_id=step,
                status="problem",
                summary=f"{step}: problem",
                findings=findings,
                started_at=NOW,
                finished_at=NOW,
                actor="oncall",
            )
            for step, findings in runs.items()
        },
    )


def pod(name: str, value: str | bool | int, subject: str = "pod/api-gateway-7d9f-x1") -> Finding:
    return Finding(name=name, value=value, subject=subject)


# --- escalation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("playbook_id", "minutes", "held_for", "flags", "criterion"),
    [
        (
            "api-gateway-5xx",
            10,
            None,
            [],
            "If issue persists > 10 minutes, escalate to Platform Team Lead",
        ),
        # "P99 > 2s for > 10 minutes" is a metric condition; 15+ minutes pages by time.
        (
            "api-gateway-latency",
            15,
            10,
            [],
            "If P99 > 2s for > 10 minutes, escalate to Platform Team",
        ),
        (
            "api-gateway-down",
            15,
            5,
            [],
            "If all pods down > 5 minutes, page Platform Team Lead immediately",
        ),
        (
            "api-gateway-auth-failures",
            15,
            None,
            ["data-loss"],
            "If Redis data loss, escalate to Platform Team Lead",
        ),
        (
            "api-gateway-rate-limiting",
            15,
            None,
            [],
            "15+ minutes or critical issue: Page Platform Team Lead",
        ),
    ],
)
def test_incidents_escalate_to_the_platform_team_lead_when_the_runbook_says(
    playbooks: dict[str, Playbook],
    playbook_id: str,
    minutes: int,
    held_for: int | None,
    flags: list[str],
    criterion: str,
) -> None:
    levels = [e for e in playbooks[playbook_id].escalation if e.title == "Platform Team Lead"]
    assert len(levels) == 1, playbook_id
    assert levels[0].after == timedelta(minutes=minutes)
    assert criterion in levels[0].criteria
    metric = levels[0].metric
    assert (metric.held_for if metric else None) == (
        timedelta(minutes=held_for) if held_for is not None else None
    )
    assert levels[0].on_flags == flags


def test_the_levels_mean_the_same_people_in_every_gateway_playbook(
    playbooks: dict[str, Playbook],
) -> None:
    # The config maps a level number to its contacts, so level 3 must be the same person here.
    titles: dict[int, set[str]] = {}
    for playbook in playbooks.values():
        for level in playbook.escalation:
            titles.setdefault(level.level, set()).add(level.title)
    assert titles == {
        1: {"Security Team"},
        2: {"Team members in Slack"},
        3: {"Platform Team Lead"},
        4: {"CTO/VP Engineering"},
    }


@pytest.mark.parametrize("playbook_id", ["api-gateway-auth-failures", "api-gateway-5xx"])
def test_the_security_team_is_notified_when_security_is_suspected_never_on_a_timer(
    playbooks: dict[str, Playbook], playbook_id: str
) -> None:
    first = playbooks[playbook_id].escalation[0]
    assert (first.title, first.after, first.on_flags) == (
        "Security Team",
        None,
        ["security-suspected"],
    )
    assert first.after_failed_fixes is None and first.metric is None
    # Its notice carries diagnostic findings: the incident room only, never the status page.
    assert playbooks[playbook_id].communications["security"].audience == ["internal"]


def test_auth_failures_notify_the_security_team_at_once(
    playbooks: dict[str, Playbook], renderer: TemplateRenderer
) -> None:
    playbook = playbooks["api-gateway-auth-failures"]
    first = playbook.escalation[0]
    assert (first.title, first.on_flags) == ("Security Team", ["security-suspected"])
    assert any("suspected attack" in c for c in first.criteria)

    found = playbook.find_step("notify-security")
    assert found is not None
    step = found[1]
    assert step.kind == "communication" and step.template == "security"
    incident = incident_with(
        playbook,
        {"auth-failure-sources": [Finding(name="logs.text", value="401 x", subject="app=gw")]},
    )
    context = template_context(incident, playbook, Config(), NOW)
    body = renderer.render(playbook.communications["security"].template, context)
    assert body.startswith("[SECURITY] INC-0042 · api-gateway: API Gateway Authentication")
    assert "security@example.com" in body
    assert "- auth-failure-sources: auth-failure-sources: problem" in body


@pytest.mark.parametrize("playbook_id", GATEWAY)
def test_every_status_template_renders_with_what_the_engine_gives(
    playbooks: dict[str, Playbook], renderer: TemplateRenderer, playbook_id: str
) -> None:
    playbook = playbooks[playbook_id]
    context = template_context(incident_with(playbook, {}), playbook, Config(), NOW)
    for key, communication in playbook.communications.items():
        body = renderer.render(communication.template, context)
        assert "INC-0042 · api-gateway" in body.splitlines()[0], key


# --- root causes of the gateway being down ----------------------------------------------------


@pytest.mark.parametrize(
    ("cause", "runs"),
    [
        (
            "crashloopbackoff",
            {
                "pods": [
                    pod("pod.phase", "Running"),
                    pod("pod.waiting_reason", "CrashLoopBackOff"),
                    pod("pod.last_termination_reason", "Error"),
                ],
                "previous-logs": [
                    Finding(name="logs.text", value="FATAL SESSION_SECRET is missing"),
                ],
            },
        ),
        (
            "pending",
            {
                "pods": [pod("pod.phase", "Pending")],
                "events": [
                    pod("event.reason", "FailedScheduling"),
                    pod("event.message", "0/3 nodes are available: 3 Insufficient memory."),
                ],
            },
        ),
        (
            # A pod that cannot pull its image is Pending too: the pull must still win.
            "imagepullbackoff",
            {
                "pods": [
                    pod("pod.phase", "Pending"),
                    pod("pod.waiting_reason", "ImagePullBackOff"),
                ],
                "events": [
                    pod("event.reason", "Failed"),
                    pod("event.message", 'Failed to pull image "gw:v9": not found'),
                    pod("event.reason", "BackOff"),
                    pod("event.message", 'Back-off pulling image "gw:v9"'),
                ],
            },
        ),
    ],
)
def test_gateway_down_suggests_the_branch_its_pods_show(
    playbooks: dict[str, Playbook], cause: str, runs: dict[str, list[Finding]]
) -> None:
    playbook = playbooks["api-gateway-down"]
    suggested = suggest_causes(playbook, incident_with(playbook, runs))
    assert suggested, "no cause suggested"
    assert suggested[0].cause.id == cause
    assert len(suggested[0].matched) > max((len(m.matched) for m in suggested[1:]), default=0)


def test_healthy_pods_suggest_no_cause(playbooks: dict[str, Playbook]) -> None:
    playbook = playbooks["api-gateway-down"]
    runs = {"pods": [pod("pod.phase", "Running"), pod("pod.ready", True)]}
    assert suggest_causes(playbook, incident_with(playbook, runs)) == []


def test_a_bad_release_has_a_way_back(playbooks: dict[str, Playbook]) -> None:
    playbook = playbooks["api-gateway-down"]
    causes = {c.id: c for c in playbook.root_causes()}
    for cause in ("crashloopbackoff", "imagepullbackoff"):
        assert "rollback" in causes[cause].see_also
    found = playbook.find_step("rollback")
    assert found is not None
    rollback = found[1]
    assert isinstance(rollback, FixStep)
    assert rollback.action.type == "k8s.rollout_undo"
    assert rollback.verify is not None and rollback.verify.type == "k8s.rollout_status"
    found = playbook.find_step("fix-image")
    assert found is not None and isinstance(found[1], FixStep)
    assert found[1].action.model_dump()["image"] == "${service.last_known_good_image}"


# --- safety and the seed's own words ----------------------------------------------------------


def test_destructive_fixes_are_marked(playbooks: dict[str, Playbook]) -> None:
    marked = set()
    for playbook in playbooks.values():
        for _, step in playbook.steps():
            if not isinstance(step, FixStep):
                continue
            if step.action.type in DESTRUCTIVE_ACTIONS:
                assert step.destructive, f"{playbook.id}/{step.id} is not marked destructive"
            if step.destructive:
                marked.add((playbook.id, step.id))
    # Scaling a live gateway down removes capacity: the runbook asks to check traffic first.
    assert marked == {("api-gateway-operations", "scale-down")}


def test_the_unknown_pod_is_restarted_by_a_rolling_restart(playbooks: dict[str, Playbook]) -> None:
    # `kubectl delete pod <pod-name>` names a pod nobody knows when writing the playbook.
    found = playbooks["api-gateway-5xx"].find_step("restart-unhealthy")
    assert found is not None and isinstance(found[1], FixStep)
    assert found[1].action.type == "k8s.rollout_restart"
    assert found[1].command == "kubectl delete pod <pod-name>  # Restart unhealthy pod"


def test_steps_show_the_runbooks_command_exactly(playbooks: dict[str, Playbook]) -> None:
    seed_commands = set(commands(SEED.read_text(encoding="utf-8")))
    rows = yaml.safe_load(TABLE.read_text(encoding="utf-8"))["rows"]
    checked = 0
    for row in rows:
        if row["line"] not in seed_commands or ":" in row["step"]:
            continue
        found = playbooks[row["playbook"]].find_step(row["step"])
        assert found is not None, row
        assert found[1].command == row["line"], f"{row['playbook']}/{row['step']}"
        checked += 1
    assert checked >= 110


def test_actions_take_names_from_the_binding(playbooks: dict[str, Playbook]) -> None:
    literal = ("api-gateway", "redis-service", "user-service", "post-service", "app=", "localhost")
    for playbook in playbooks.values():
        for _, step in playbook.steps():
            actions = []
            if isinstance(step, DiagnosticStep | FixStep):
                actions.append(step.action)
            if isinstance(step, FixStep) and step.verify is not None:
                actions.append(step.verify)
            if isinstance(step, VerificationStep):
                actions.append(step.check)
            for action in actions:
                text = PLACEHOLDER.sub("", str(action.model_dump()))
                for name in literal:
                    assert name not in text, f"{playbook.id}/{step.id} names {name!r}"


def test_metrics_are_read_from_the_metrics_url_with_the_runbooks_names(
    playbooks: dict[str, Playbook],
) -> None:
    names = set()
    for playbook in playbooks.values():
        for _, step in playbook.steps():
            if isinstance(step, DiagnosticStep) and step.action.type == "http.metrics":
                params = step.action.model_dump()
                assert params["url"] == "${service.metrics_url}"
                names.update(params["match"])
    expected = {"duration", "upstream_duration", "requests_total", "ratelimit", "auth_failures"}
    assert expected | {"ratelimit_exceeded"} <= names


# --- drills: from `run` to a suggested cause to the fix that cures it -------------------------


def drill(playbook: str, scenario: str, commands_: list[str]) -> Transcript:
    args = ["drill", playbook, "--scenario", scenario, "--ready-delay", READY_DELAY]
    transcript = run_bot(args, commands_, bot_env())
    # A crashing app's own traceback is shown as log output (`| ...`); the bot must print none.
    own = [line for line in transcript.stdout.splitlines() if "|" not in line]
    assert "Traceback" not in "\n".join(own) + transcript.stderr, transcript.stderr
    assert transcript.returncode == 0, transcript.stdout + transcript.stderr
    assert len(transcript.replies) == len(commands_), transcript.stdout
    return transcript


_INSTALLED = dict(list_scenarios())
# The gateway's own scenarios where the sandbox has them; `oom-bad-deploy` crash-loops too.
CRASHLOOP = [s for s in ("gateway-crashloop", "oom-bad-deploy") if s in _INSTALLED]


@pytest.mark.parametrize("scenario", CRASHLOOP)
def test_a_crash_looping_release_is_rolled_back(scenario: str) -> None:
    t = drill("api-gateway-down", scenario, ["run", "fix rollback", "approve", "run pods"])

    diagnosis = t.reply("run")
    assert "[PROBLEM] pods: Check pod status" in diagnosis
    assert "Suggested root cause: CrashLoopBackOff" in diagnosis
    assert "see also: rollback" in diagnosis

    request = t.reply("fix rollback")
    assert "Fix requested: Emergency rollback" in request
    assert "Dry run: roll back deployment/" in request
    assert "Approval A1 is needed" in request

    applied = t.reply("approve")
    assert "applied by oncall" in applied
    assert "verification: [ok]" in applied

    healed = t.reply("run pods")
    assert "[ok] pods: Check pod status" in healed
    assert "CrashLoopBackOff" not in healed.split("Suggested root cause")[0]


@pytest.mark.parametrize("scenario", [s for s in ("gateway-image-pull",) if s in _INSTALLED])
def test_an_image_that_cannot_be_pulled_is_replaced_by_the_last_good_one(scenario: str) -> None:
    t = drill("api-gateway-down", scenario, ["run", "fix fix-image", "approve", "run pods"])
    assert "Suggested root cause: ImagePullBackOff" in t.reply("run")
    assert "applied by oncall" in t.reply("approve")
    assert "[ok] pods: Check pod status" in t.reply("run pods")


def test_pending_pods_point_at_resource_constraints() -> None:
    t = drill("api-gateway-down", "pending-resources", ["run"])
    diagnosis = t.reply("run")
    assert "Suggested root cause: Pending (resource constraints)" in diagnosis
    assert "checks: node-resources, resource-requests" in diagnosis
