"""`runbook-bot drill` ends on the same score a drill in Slack posts."""

from __future__ import annotations

from tests.scenarios.conftest import READY_DELAY, bot_env, run_bot


def test_the_terminal_drill_prints_the_score_at_the_end() -> None:
    commands = [
        "run",
        "goto quick-remediation",
        "fix restart",
        "goto full-recovery",
        "fix rollback",
        "approve A2",
        "resolve Memory limit too low -- Rolled back",
    ]
    t = run_bot(["drill", "api-down", "--ready-delay", READY_DELAY], commands, bot_env())
    assert "Traceback" not in t.stdout + t.stderr, t.stderr
    assert t.returncode == 0, t.stdout + t.stderr
    assert "DRILL: scenario 'oom-bad-deploy'" in t.preamble
    assert "applied by" in t.reply("approve A2")

    resolved = t.lines("resolve Memory limit too low -- Rolled back")
    document = "\n".join(resolved)
    assert "> **DRILL**: a game day, scenario 'oom-bad-deploy'." in document
    assert "## DRILL score" in document
    score = resolved[-5:]
    assert score[0] == "DRILL score, scenario 'oom-bad-deploy':"
    assert score[1].startswith("- time to the right root cause (resource-exhaustion): ")
    assert not score[1].endswith("not reached")
    assert score[2].startswith("- time to mitigate: ")
    assert not score[2].endswith("not reached")
    assert score[3] == "- fixes requested that did not fit the findings: 1 (restart)"
    assert score[4] == "- status updates on time: 0/0"
