"""A console killed mid-incident and started again carries on with the same incident."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import redis

from bot.drills.kubernetes import Sandbox
from tests.scenarios.conftest import TIMEOUT_S, BotProcess, console_env, run_bot

# A database of the session's redis-server that no other test uses, emptied before each use.
REDIS_DB = 9


@pytest.fixture(params=["sqlite", "redis"])
def store_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Where the console keeps its state: a SQLite file, or a real redis-server."""
    settings = {"RUNBOOK_BOT_STATE": str(tmp_path / "state.db")}
    if request.param == "redis":
        url = request.getfixturevalue("redis_url").rsplit("/", 1)[0] + f"/{REDIS_DB}"
        with redis.Redis.from_url(url) as client:
            client.flushdb()
        settings["REDIS_URL"] = url
    return settings


def eventually(check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + TIMEOUT_S
    while not check() and time.monotonic() < deadline:
        time.sleep(0.05)
    return check()


def test_killed_console_resumes_the_same_incident(
    store_env: dict[str, str],
    tmp_path: Path,
    sandbox: Callable[[str], Sandbox],
    spawn: Callable[[Sequence[str], dict[str, str]], BotProcess],
) -> None:
    sb = sandbox("oom-bad-deploy")
    env = console_env(sb, tmp_path, **store_env)

    first = spawn(["console"], env)
    first.send("open api-down ecap-api pods crash-looping")
    found = re.search(r"Opened (INC-\d{4})\.", first.wait_for("Opened INC-"))
    assert found is not None
    incident_id = found[1]
    first.send("run")
    diagnosed = first.wait_for("Suggested root cause: Resource exhaustion")
    pod_rows = re.findall(r"ecap-api-\w+-\w+ +0/1 +CrashLoopBackOff.*", diagnosed)
    assert len(pod_rows) == 3, diagnosed
    first.send("goto full-recovery")
    first.wait_for("stage 8/9: Recovery: full service recovery")
    first.send("fix rollback")
    first.wait_for("Approval A1 is needed")
    first.kill()

    assert not sb.healthy()  # the pending fix did not run
    assert "REDIS_URL" in env or Path(env["RUNBOOK_BOT_STATE"]).exists()

    commands = ["status", "show pods", "timeline", "approve A1", "timeline"]
    second = run_bot(["console", "--incident", incident_id], commands, env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Traceback" not in second.stderr

    assert f"== {incident_id} · API Service Down · ecap-api · OPEN" in second.preamble
    assert "stage 8/9: Recovery: full service recovery" in second.reply("status")
    shown = second.reply("show pods")
    assert "[PROBLEM] pods: Check service pods" in shown
    for row in pod_rows:
        assert row in shown

    earlier = second.reply("timeline", 0)
    for entry in ("opened", "diagnostic", "moved to stage: Recovery", "(approval A1)"):
        assert entry in earlier
    assert "fix-applied" not in earlier

    applied = second.reply("approve A1")
    assert "applied by oncall" in applied
    assert "ecap/api:2.5.0 -> ecap/api:2.4.0" in applied
    assert "verification: [ok]" in applied
    assert second.reply("timeline", 1).count("fix-applied") == 1
    assert eventually(sb.healthy)

    if "REDIS_URL" in env:
        # The state went to Redis, not to the embedded file.
        assert not Path(env["RUNBOOK_BOT_STATE"]).exists()
