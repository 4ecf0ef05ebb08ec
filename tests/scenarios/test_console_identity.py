"""The console acts as the operating-system user mapped in the config, never as whoever is typed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.adapters.console import os_login
from bot.drills.kubernetes import Sandbox
from tests.scenarios.conftest import console_env, run_bot


def test_as_user_is_refused_outside_drills(
    tmp_path: Path, sandbox: Callable[[str], Sandbox]
) -> None:
    sb = sandbox("oom-bad-deploy")
    # The operating-system user is nobody at the console; "lead" is an approver.
    env = console_env(sb, tmp_path, {}, RUNBOOK_BOT_STATE=str(tmp_path / "state.db"))
    commands = [
        "open api-down ecap-api",
        "goto full-recovery",
        "fix rollback",
        "approve A1 as lead",
    ]

    transcript = run_bot(["console"], commands, env)

    assert transcript.returncode == 0, transcript.stdout + transcript.stderr
    refused = transcript.lines("approve A1 as lead")
    assert len(refused) == 1, refused
    assert refused[0].startswith("error: `as USER` works only in drills")
    assert not sb.healthy()


def test_an_unmapped_user_can_read_but_not_approve(
    tmp_path: Path, sandbox: Callable[[str], Sandbox]
) -> None:
    sb = sandbox("oom-bad-deploy")
    # Someone else's account is mapped; this one is not.
    env = console_env(
        sb, tmp_path, {"someone-else": "oncall"}, RUNBOOK_BOT_STATE=str(tmp_path / "state.db")
    )
    # Claiming that account through the environment changes nothing.
    env |= {"USER": "someone-else", "LOGNAME": "someone-else"}
    commands = [
        "open api-down ecap-api",
        "status",
        "run pods",
        "goto full-recovery",
        "fix rollback",
        "approve A1",
        "timeline",
    ]

    transcript = run_bot(["console"], commands, env)

    assert transcript.returncode == 0, transcript.stdout + transcript.stderr
    assert "== INC-0001 · API Service Down" in transcript.reply("status")
    assert "[PROBLEM] pods" in transcript.reply("run pods")
    user = os_login()
    refused = transcript.lines("approve A1")
    assert refused == [f"error: {user} is not an approver for fixes"], refused
    assert "fix-approved" not in transcript.reply("timeline")
    assert not sb.healthy()


def test_a_mapped_user_approves_as_their_id_and_the_two_person_rule_holds(
    tmp_path: Path, sandbox: Callable[[str], Sandbox]
) -> None:
    sb = sandbox("oom-bad-deploy")
    env = console_env(sb, tmp_path, RUNBOOK_BOT_STATE=str(tmp_path / "state.db"))
    commands = [
        "open api-down ecap-api",
        "goto full-recovery",
        "fix stop-traffic",
        "approve A1",
        "fix rollback",
        "approve A2",
    ]

    transcript = run_bot(["console"], commands, env)

    assert transcript.returncode == 0, transcript.stdout + transcript.stderr
    assert transcript.lines("approve A1") == [
        "error: this fix is destructive: it needs an approver other than the requester"
    ]
    assert "applied by oncall" in transcript.reply("approve A2")
