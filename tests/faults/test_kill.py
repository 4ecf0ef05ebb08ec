"""`kill -9` at each step boundary of an incident, then a restart: nothing lost, nothing done twice,
and the responder told what happened.

The bot is the real `runbook-bot console` over a real store (SQLite, or a real redis-server); the
cluster is a sandbox in this process that records every request, so a fix sent twice would show.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import redis

from bot.drills.kubernetes import Sandbox
from tests.scenarios.conftest import BotProcess, console_env

# A database of the session's redis-server that no other test uses, emptied before each use.
REDIS_DB = 10
# Each request to the sandbox's API waits this long while the rollback is applied, so the
# process is killed in the middle of it, as in the report: 6 s of latency, killed after 2 s.
APPLY_LATENCY_S = 6.0
KILLED_AFTER_S = 2.0

FAULTS: list[str] = []


@pytest.fixture(params=["sqlite", "redis"])
def store_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    settings = {"RUNBOOK_BOT_STATE": str(tmp_path / "state.db")}
    if request.param == "redis":
        url = request.getfixturevalue("redis_url").rsplit("/", 1)[0] + f"/{REDIS_DB}"
        with redis.Redis.from_url(url) as client:
            client.flushdb()
        settings["REDIS_URL"] = url
    return settings


@pytest.fixture
def cluster(sandbox: Callable[[str], Sandbox]) -> Sandbox:
    sb = sandbox("oom-bad-deploy")
    sb._server.requests = []
    return sb


@pytest.fixture
def bot(
    cluster: Sandbox,
    store_env: dict[str, str],
    tmp_path: Path,
    spawn: Callable[[Sequence[str], dict[str, str]], BotProcess],
) -> Iterator[Callable[..., BotProcess]]:
    """Starts the console on the shared store; `crash_at` has it kill itself at that point."""
    env = console_env(cluster, tmp_path, **store_env)

    def start(*args: str, crash_at: str = "") -> BotProcess:
        extra = {"RUNBOOK_BOT_CRASH_AT": crash_at} if crash_at else {}
        return spawn(["console", *args], {**env, **extra})

    yield start


def sent_fixes(cluster: Sandbox) -> list[str]:
    """Changes that reached the cluster: writes that were not server-side dry runs."""
    requests = cluster._server.requests or []
    return [
        f"{method} {path}"
        for method, path in requests
        if method in ("PATCH", "PUT", "POST", "DELETE") and "dryRun" not in path
    ]


def opened(process: BotProcess) -> str:
    process.send("open api-down ecap-api pods crash-looping")
    found = re.search(r"Opened (INC-\d{4})\.", process.wait_for("Opened INC-"))
    assert found is not None
    return found[1]


def killed(process: BotProcess, fault: str) -> None:
    process.kill()
    FAULTS.append(fault)


def timeline(process: BotProcess) -> str:
    """The timeline as printed now; an unknown command after it marks where it ends."""
    process.send("timeline", "end-of-timeline")
    out = process.wait_for("unknown command 'end-of-timeline'")
    return out[out.rindex("Timeline of ") : out.rindex("error: unknown command 'end-of-timeline'")]


def requested_rollback(process: BotProcess) -> str:
    incident_id = opened(process)
    process.send("goto full-recovery")
    process.wait_for("stage 8/9: Recovery: full service recovery")
    process.send("fix rollback")
    process.wait_for("Approval A1 is needed")
    return incident_id


def test_killed_after_open_keeps_the_incident(bot: Callable[..., BotProcess]) -> None:
    first = bot()
    incident_id = opened(first)
    killed(first, "after open")

    second = bot("--incident", incident_id)
    second.wait_for(f"== {incident_id} · API Service Down · ecap-api · OPEN")
    second.send("list")
    listed = second.wait_for(f"  {incident_id}  api-down")
    assert listed.count(f"  {incident_id}  api-down") == 1
    shown = timeline(second)
    assert shown.count(" opened ") == 1
    assert second.finish().returncode == 0


def test_killed_after_claiming_commander_keeps_the_claim(bot: Callable[..., BotProcess]) -> None:
    first = bot()
    incident_id = opened(first)
    first.send("commander")
    first.wait_for(f"oncall is incident commander of {incident_id}")
    killed(first, "after claim")

    second = bot("--incident", incident_id)
    second.wait_for("commander: oncall")
    shown = timeline(second)
    assert shown.count("oncall is incident commander") == 1
    assert second.finish().returncode == 0


def interrupted_and_offered_again(cluster: Sandbox, second: BotProcess, how: str) -> None:
    """After the restart: told, not re-run, asked afresh; the fresh approval runs it once."""
    told = second.wait_for("was interrupted")
    assert how in told
    assert "nothing reached the cluster" in told
    assert "`approve A2`" in told
    assert sent_fixes(cluster) == []
    assert not cluster.healthy()

    shown = timeline(second)
    assert "fix-interrupted" in shown
    assert "fix-applied" not in shown
    second.send("status")
    status = second.wait_for("[pending] A2")
    assert "approvals waiting: 1" in status
    second.send("approve A1")
    assert "error: approval A1 is already interrupted" in second.wait_for("already interrupted")
    second.send("approve A2")
    second.wait_for("verification: [ok]")
    assert len(sent_fixes(cluster)) == 1
    assert second.finish().returncode == 0
    assert cluster.healthy()


def test_killed_after_approving_offers_the_fix_again(
    bot: Callable[..., BotProcess], cluster: Sandbox
) -> None:
    first = bot(crash_at="fix-approved")
    incident_id = requested_rollback(first)
    first.send("approve A1")
    assert first.process.wait(timeout=60) == -9
    killed(first, "after approve")

    second = bot("--incident", incident_id)
    interrupted_and_offered_again(cluster, second, "before it was applied")


def test_killed_mid_apply_offers_the_fix_again_and_never_runs_it_twice(
    bot: Callable[..., BotProcess], cluster: Sandbox
) -> None:
    first = bot()
    incident_id = requested_rollback(first)
    cluster.set_latency(APPLY_LATENCY_S)
    first.send("approve A1")
    time.sleep(KILLED_AFTER_S)
    killed(first, "mid-apply")
    # The request the bot had in flight is answered to nobody; no write follows it.
    time.sleep(APPLY_LATENCY_S)
    cluster.set_latency(0)

    second = bot("--incident", incident_id)
    interrupted_and_offered_again(cluster, second, "while it was being applied")


def test_killed_mid_resolve_resolves_once(bot: Callable[..., BotProcess]) -> None:
    first = bot(crash_at="resolved")
    incident_id = opened(first)
    first.send("resolve bad deploy -- rolled back")
    assert first.process.wait(timeout=60) == -9
    killed(first, "mid-resolve")

    second = bot("--incident", incident_id)
    second.wait_for(f"== {incident_id} · API Service Down · ecap-api · RESOLVED")
    second.send("resolve again")
    assert f"error: {incident_id} is resolved" in second.wait_for("is resolved")
    shown = timeline(second)
    assert shown.count(" resolved ") == 1
    assert second.finish().returncode == 0


def test_zz_faults_injected() -> None:
    """Reports how many kill -9 faults the module injected (run in order, so last)."""
    print(f"\nkill -9 faults injected: {len(FAULTS)} ({', '.join(sorted(set(FAULTS)))})")
