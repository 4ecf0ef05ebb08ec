"""No secret the cluster or the environment holds reaches the bot's output or its state file."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import yaml

from bot.drills.kubernetes import Sandbox
from bot.playbooks.loader import load_playbooks
from bot.playbooks.models import DiagnosticStep, FixStep
from bot.settings import Settings
from bot.templates import TemplateRenderer
from tests.scenarios.conftest import READY_DELAY, BotProcess, bot_env, console_env, run_bot

SLACK = {
    "SLACK_BOT_TOKEN": "xoxb-1234567890-0987654321-sEcReTbOtToKeN",
    "SLACK_SIGNING_SECRET": "8f14e45fceea167a5a36dedd4bea2543",
    "SLACK_APP_TOKEN": "xapp-1-A0123456789-1234567890-sEcReTaPpToKeN",
}


# The fix that cures each scenario, so the verifications after it pass at once.
CURE = {
    "oom-bad-deploy": ["fix rollback", "approve"],
    "database-down": ["fix restart-db", "approve as lead"],
}


def every_step(scenario: str) -> list[str]:
    """Console commands that run every diagnostic of every stage, show each one's whole
    output, preview every fix, apply the cure, post updates and resolve."""
    settings = Settings.from_env({})
    playbook = load_playbooks(settings.playbooks_dir, TemplateRenderer(settings.templates_dir))[
        "api-down"
    ]
    commands: list[str] = []
    for stage in playbook.stages:
        diagnostics = [s.id for s in stage.all_steps() if isinstance(s, DiagnosticStep)]
        commands += [f"goto {stage.id}", *(["run"] if diagnostics else [])]
        commands += [f"show {step_id}" for step_id in diagnostics]
    for _, step in playbook.steps():
        if isinstance(step, FixStep):
            commands += [f"fix {step.id}", "deny"]
    return [
        *commands,
        "causes",
        *CURE[scenario],
        "verify wait-rollout",
        "verify verify-health",
        "draft initial",
        "say update",
        "say extended eta=30m",
        "timeline",
        "resolve Memory limit too low -- Rolled back",
    ]


def leaks(text: str | bytes, secrets: Sequence[str]) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [s for s in secrets if s.encode() in data]


def assert_diagnostics_saw_the_secrets(output: str) -> None:
    """The walk really read config, secret, env and logs; it only shows no values."""
    assert [line for line in output.splitlines() if line.startswith("error:")] == []
    for shown in ("DATABASE_PASSWORD: [redacted]", "ECAP_DB_PASSWORD   [redacted]", "  API_KEY"):
        assert shown in output
    assert "==> pod/ecap-api-" in output  # the application logs
    assert "applied by " in output


@pytest.mark.parametrize("scenario", ["oom-bad-deploy", "database-down"])
def test_secret_values_are_scenario_data(scenario: str) -> None:
    with Sandbox.start(scenario) as one, Sandbox.start(scenario) as two:
        assert one.secret_values() == two.secret_values()
        assert len(one.secret_values()) >= 6
        # The token is not scenario data: each start makes its own.
        assert one.token != two.token


@pytest.mark.parametrize("scenario", ["oom-bad-deploy", "database-down"])
def test_drill_output_shows_no_secret(
    scenario: str, spawn: Callable[[Sequence[str], dict[str, str]], BotProcess]
) -> None:
    with Sandbox.start(scenario) as same:
        secrets = same.secret_values()
    drill = spawn(
        ["drill", "api-down", "--scenario", scenario, "--ready-delay", READY_DELAY],
        bot_env(**SLACK),
    )
    header = drill.wait_for("Type help for commands.")
    # The drill's own sandbox token, read from the kubeconfig it wrote, while it still exists.
    kubeconfig = header.split("(kubeconfig ", 1)[1].split(")", 1)[0]
    token = yaml.safe_load(Path(kubeconfig).read_text(encoding="utf-8"))["users"][0]["user"][
        "token"
    ]
    drill.send(*every_step(scenario))
    transcript = drill.finish()

    assert transcript.returncode == 0, transcript.stderr
    assert len(transcript.replies) == len(transcript.commands)
    assert "Traceback" not in transcript.stderr
    assert_diagnostics_saw_the_secrets(transcript.stdout)
    everything = transcript.stdout + transcript.stderr
    assert leaks(everything, [*secrets, token, *SLACK.values()]) == []


def test_console_state_file_holds_no_secret(
    tmp_path: Path, sandbox: Callable[[str], Sandbox]
) -> None:
    sb = sandbox("oom-bad-deploy")
    state = tmp_path / "state.db"
    env = console_env(sb, tmp_path, RUNBOOK_BOT_STATE=str(state), **SLACK)
    commands = ["open api-down ecap-api ecap-api answers 503", *every_step("oom-bad-deploy")]
    transcript = run_bot(["console"], commands, env)

    assert transcript.returncode == 0, transcript.stderr
    assert "Traceback" not in transcript.stderr
    assert_diagnostics_saw_the_secrets(transcript.stdout)
    secrets = [*sb.secret_values(), sb.token, *SLACK.values()]
    assert leaks(transcript.stdout + transcript.stderr, secrets) == []

    files = sorted(tmp_path.glob("state.db*"))
    assert state in files
    stored = b"".join(f.read_bytes() for f in files)
    assert b"DATABASE_PASSWORD: [redacted]" in stored  # the runs' outputs are in there
    assert leaks(stored, secrets) == []
