"""In the console: `say` prints where an update goes, `flag NAME` escalates on a condition."""

from __future__ import annotations

from tests.scenarios.conftest import READY_DELAY, Transcript, bot_env, run_bot


def drill(commands: list[str]) -> Transcript:
    transcript = run_bot(["drill", "api-down", "--ready-delay", READY_DELAY], commands, bot_env())
    assert "Traceback" not in transcript.stdout + transcript.stderr, transcript.stderr
    assert transcript.returncode == 0, transcript.stdout + transcript.stderr
    return transcript


def test_say_prints_its_audience_and_a_flag_escalates_on_the_timeline() -> None:
    t = drill(
        [
            "status",
            "say initial",
            "flag security-suspected",
            "flag security-suspected",
            "flag hacked",
            "timeline",
        ]
    )
    assert "escalates on: flag customer-escalations, flag data-loss, flag security-suspected" in (
        t.reply("status")
    )
    assert t.lines("say initial")[0] == (
        "Posted status update 'initial' to the incident room, the incidents channel,"
        " the status channel, the status page:"
    )
    assert t.lines("flag security-suspected")[0] == (
        "Flag raised: security suspected; escalates to level 3 (CTO)"
    )
    assert "already raised by oncall" in t.reply("flag security-suspected", 1)
    assert "no flag 'hacked'" in t.reply("flag hacked")
    assert any(
        "flag-raised" in line and line.endswith("security suspected; escalates to level 3 (CTO)")
        for line in t.lines("timeline")
    )
