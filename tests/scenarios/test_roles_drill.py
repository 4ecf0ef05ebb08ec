"""In the console: severity at open and mid-incident, roles handed over, stats, bad input."""

from __future__ import annotations

from tests.scenarios.conftest import READY_DELAY, Transcript, bot_env, run_bot


def drill(commands: list[str]) -> Transcript:
    transcript = run_bot(["drill", "api-down", "--ready-delay", READY_DELAY], commands, bot_env())
    assert "Traceback" not in transcript.stdout + transcript.stderr, transcript.stderr
    assert transcript.returncode == 0, transcript.stdout + transcript.stderr
    return transcript


def test_severity_roles_and_stats_at_the_console() -> None:
    t = drill(
        [
            "open api-down ecap-api --sev 2 second look",
            "open api-down ecap-api --sev 9",
            "roles",
            "role commander @alice",
            "role communications @bob",
            "role commander carol",
            "role janitor @bob",
            "sev 9",
            "sev 1",
            "status",
            "resolve bad deploy -- rolled back",
            "stats 7d",
            "stats 1y",
        ]
    )
    opened = t.reply("open api-down ecap-api --sev 2 second look")
    assert "Opened INC-0002." in opened and "severity high" in opened
    assert t.lines("open api-down ecap-api --sev 9") == [
        "error: severity must be one of 1 (critical), 2 (high), 3 (medium), 4 (low), not '9'"
    ]
    assert t.lines("roles") == [
        "  commander              unassigned",
        "  communications lead    unassigned",
        "  operations lead        unassigned",
    ]
    assert t.lines("role commander @alice") == ["INC-0002: alice is commander"]
    assert t.lines("role communications @bob") == ["INC-0002: bob is communications lead"]
    assert t.lines("role commander carol") == [
        "INC-0002: carol is commander (handed over from alice)"
    ]
    assert t.lines("role janitor @bob") == [
        "error: no role 'janitor' (roles: commander, communications, operations)"
    ]
    assert t.lines("sev 9")[0].startswith("error: severity must be one of 1 (critical)")
    assert t.lines("sev 1") == ["INC-0002: severity SEV2 high -> SEV1 critical"]
    status = t.reply("status")
    assert "severity critical" in status and "commander: carol" in status
    assert "roles: communications lead bob, operations lead unassigned" in status

    document = t.reply("resolve bad deploy -- rolled back")
    assert "**Commander:** carol" in document
    assert "**Roles:** communications lead: bob; operations lead: unassigned" in document
    assert "carol is commander (handed over from alice) (by oncall)" in document
    assert "**Time to resolve:** " in document

    stats = t.lines("stats 7d")
    assert stats[0].startswith("Incidents opened in the last 7d")
    assert stats[1] == "  api-down · ecap-api: 2 opened"
    assert "resolve " in stats[2] and "(n=1)" in stats[2]
    assert stats[-3] == "  all: 2 opened"
    assert t.lines("stats 1y") == ["error: stats window must be 7d, 30d or 90d, not '1y'"]
