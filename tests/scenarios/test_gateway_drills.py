"""The API gateway's drills, each walked as a responder: diagnose, fix, verify, update, resolve."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import yaml

from bot.drills.kubernetes import Sandbox
from bot.drills.kubernetes.scenario import load_scenario, scenarios_for
from bot.playbooks.loader import load_playbooks
from bot.settings import Settings
from bot.templates import TemplateRenderer
from tests.scenarios.conftest import (
    READY_DELAY,
    TIMEOUT_S,
    BotProcess,
    Transcript,
    bot_env,
    console_env,
    run_bot,
)

KUBECTL = Path(sys.executable).parent / "kubectl"
Spawn = Callable[[Sequence[str], dict[str, str]], BotProcess]


def expected_cause(scenario: str) -> str:
    """The title of the root cause the scenario says a responder should be pointed to."""
    chosen = load_scenario(scenario)
    settings = Settings.from_env({})
    playbooks = load_playbooks(settings.playbooks_dir, TemplateRenderer(settings.templates_dir))
    causes = {c.id: c.title for c in playbooks[chosen.playbook].root_causes()}
    return causes[chosen.root_cause]


def drill_args(scenario: str) -> list[str]:
    playbook = load_scenario(scenario).playbook
    return ["drill", playbook, "--scenario", scenario, "--ready-delay", READY_DELAY]


def drill(scenario: str, commands: list[str]) -> Transcript:
    transcript = run_bot(drill_args(scenario), commands, bot_env())
    return checked(transcript, commands)


def checked(transcript: Transcript, commands: list[str]) -> Transcript:
    assert "Traceback" not in transcript.stdout + transcript.stderr, transcript.stderr
    assert transcript.returncode == 0, transcript.stdout + transcript.stderr
    assert len(transcript.replies) == len(commands), transcript.stdout
    for command in commands:
        refused = [line for line in transcript.lines(command) if line.startswith("error: ")]
        assert not refused, (command, refused)
    return transcript


def top_cause(t: Transcript, scenario: str) -> None:
    """`causes` puts the scenario's root cause first."""
    assert t.lines("causes")[0].startswith(f"Suggested root cause: {expected_cause(scenario)} (")


def resolved(t: Transcript, command: str, root_cause: str, fix_title: str) -> None:
    document = t.reply(command)
    assert "INC-0001 resolved." in document
    assert "# Post-incident report: INC-0001" in document
    assert f"**Root Cause:** {root_cause}" in document
    assert f"- {fix_title}: applied (" in document
    rows = document.split("## Timeline", 1)[1]
    for event in ("diagnostic", "fix-requested", "fix-applied", "verification", "status-update"):
        assert f"| {event} |" in rows, event
    assert rows.count("| fix-applied |") == 1


def update_posted(t: Transcript, fix_title: str) -> None:
    lines = t.lines("say update")
    assert any(
        line.startswith("Posted status update 'update' to the incident room") for line in lines
    )
    assert any(line.startswith(f"  | - {fix_title}: applied (") for line in lines)
    # Its own line: the fix's line ends in an expression, not a tag trim_blocks eats.
    assert any(re.fullmatch(r"  \| Next update within \d+ min\.", line) for line in lines)


def edit_configmap(kubeconfig: str, key: str, value: str) -> None:
    """The responder's manual `kubectl edit configmap api-gateway-config`, as a patch."""
    patch = f'{{"data": {{"{key}": "{value}"}}}}'
    done = subprocess.run(
        [str(KUBECTL), "--kubeconfig", kubeconfig, "patch", "configmap", "api-gateway-config",
         "-p", patch],
        capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "configmap/api-gateway-config patched" in done.stdout


def started(spawn: Spawn, scenario: str) -> tuple[BotProcess, str]:
    """A drill waiting for commands, and the kubeconfig of its sandbox cluster."""
    bot = spawn(drill_args(scenario), bot_env())
    found = re.search(r"\(kubeconfig (\S+)\)", bot.wait_for("Type help for commands."))
    assert found is not None, bot.stdout
    return bot, found.group(1)


def test_5xx_from_stale_redis_connections_is_cured_by_a_rolling_restart() -> None:
    scenario = "gateway-5xx-stale-redis"
    resolve = "resolve Stale Redis connections after the failover -- Rolling restart of the gateway"
    commands = ["run", "causes", "next", "run", "fix restart-unhealthy", "approve", "run pods",
                "run error-logs", "say update", resolve]  # fmt: skip
    t = drill(scenario, commands)

    diagnosis = t.reply("run")
    assert "0/3 pods ready: 3 Running unready" in diagnosis
    assert "redis.exceptions.ConnectionError" in diagnosis
    # Checked from a gateway pod, as the runbook's `nc -zv`: Redis itself answers.
    assert "[ok] redis-connectivity" in diagnosis
    assert "nc -zv redis.default.svc.cluster.local 6379 in pod/api-gateway-" in diagnosis
    top_cause(t, scenario)
    assert "Also possible: Redis is down (1 of 3" in t.reply("causes")
    # Redis restarted in the failover and is serving again.
    assert "redis-0   1/1     Running   0          20m" in t.reply("run", 1)
    assert "1:M * Ready to accept connections tcp" in t.reply("run", 1)

    assert "Dry run: restart deployment/api-gateway" in t.reply("fix restart-unhealthy")
    applied = t.reply("approve")
    assert "applied by oncall" in applied
    assert "verification: [ok] deployment/api-gateway rolled out: 3/3 replicas available" in applied
    assert "3/3 pods ready (app=api-gateway)" in t.reply("run pods")
    assert "0 line(s) matching 'ERROR'" in t.reply("run error-logs")

    update_posted(t, "Restart unhealthy pods (rolling restart)")
    resolved(t, resolve, "Stale Redis connections after the failover",
             "Restart unhealthy pods (rolling restart)")  # fmt: skip


def test_latency_from_load_without_an_hpa_is_cured_by_scaling_to_10() -> None:
    scenario = "gateway-latency-load"
    resolve = "resolve Traffic beyond 3 pods and no HPA -- Scaled to 10 replicas"
    commands = ["run", "next", "run", "causes", "fix scale-up", "approve", "run top-pods",
                "say update", resolve]  # fmt: skip
    t = drill(scenario, commands)

    diagnosis = t.reply("run")
    assert "[PROBLEM] top-pods" in diagnosis
    assert "memory 94%" in diagnosis
    assert "no HPA named api-gateway in namespace default" in t.reply("run", 1)
    top_cause(t, scenario)
    causes = t.reply("causes")
    assert "Gateway memory usage high (> 90%): pod.memory_percent=94" in causes
    assert "No HPA scales the gateway: hpa.missing=True" in causes

    assert "Dry run: scale deployment/api-gateway: replicas 3 -> 10" in t.reply("fix scale-up")
    applied = t.reply("approve")
    assert "applied by oncall" in applied
    assert "verification: [ok] deployment/api-gateway rolled out: 10/10 replicas available" in (
        applied
    )
    after = t.reply("run top-pods")
    assert "[ok] top-pods" in after
    assert "10 pod(s) of app=api-gateway, none above 90% of its memory limit" in after

    update_posted(t, "Manual scale to 10 replicas if needed")
    resolved(
        t, resolve, "Traffic beyond 3 pods and no HPA", "Manual scale to 10 replicas if needed"
    )


def test_auth_brute_force_is_cured_by_a_tighter_limit_and_a_restart(spawn: Spawn) -> None:
    scenario = "gateway-auth-brute-force"
    bot, kubeconfig = started(spawn, scenario)
    bot.send("run", "causes", "flag security-suspected", "say security", "next")
    bot.wait_for("stage 2/2: Resolution")
    edit_configmap(kubeconfig, "RATELIMIT_REQUESTS_PER_MINUTE", "120")
    resolve = "resolve Password guessing from 203.0.113.45 -- Rate limit tightened to 120/min"
    rest = ["done tighten-rate-limits", "fix restart-apply-limits", "approve",
            "run auth-failure-sources", "say update", resolve]  # fmt: skip
    bot.send(*rest)
    t = checked(bot.finish(), bot.commands)

    sources = t.reply("run")
    assert "most common field 5: 203.0.113.45" in sources
    top_cause(t, scenario)
    assert t.lines("flag security-suspected")[0].startswith(
        "Flag raised: security suspected; escalates to level 1 (Security Team)"
    )
    # The flag, not a timer, calls the Security Team, and nothing about it is late.
    assert "time to escalate to level 1 (Security Team)" in t.stdout
    assert "(late" not in t.stdout
    # The findings for the Security Team stay in the incident room.
    assert "Posted status update 'security' to the incident room:" in t.lines("say security")

    applied = t.reply("approve")
    assert "applied by oncall" in applied
    assert "verification: [ok] deployment/api-gateway rolled out: 3/3 replicas available" in applied
    assert "0 line(s) matching '401'" in t.reply("run auth-failure-sources")

    update_posted(t, "Restart the gateway to apply the new limits")
    resolved(t, resolve, "Password guessing from 203.0.113.45",
             "Restart the gateway to apply the new limits")  # fmt: skip


def test_rate_limit_too_low_is_cured_by_raising_it_and_restarting(spawn: Spawn) -> None:
    scenario = "gateway-ratelimit-too-low"
    bot, kubeconfig = started(spawn, scenario)
    bot.send("run", "causes")
    bot.wait_for("Suggested root cause")
    bot.send("next")
    bot.wait_for("stage 2/3: Resolution")
    edit_configmap(kubeconfig, "RATELIMIT_REQUESTS_PER_MINUTE", "600")
    resolve = "resolve Default rate limit set to 60/min -- Raised back to 600/min"
    rest = ["done increase-limits", "run limited-routes", "fix restart-apply-limits", "approve",
            "run limited-routes", "say update", resolve]  # fmt: skip
    bot.send(*rest)
    t = checked(bot.finish(), bot.commands)

    diagnosis = t.reply("run")
    assert "RATELIMIT_REQUESTS_PER_MINUTE: 60" in diagnosis
    assert "most common field 8: /v1/posts" in diagnosis
    top_cause(t, scenario)

    # The edit alone changes nothing: running pods keep the limit they started with.
    assert "limit=60/min" in t.reply("run limited-routes", 0)
    applied = t.reply("approve")
    assert "applied by oncall" in applied
    assert "verification: [ok] deployment/api-gateway rolled out: 3/3 replicas available" in applied
    assert "0 line(s) matching '429'" in t.reply("run limited-routes", 1)

    update_posted(t, "Restart gateway to apply")
    resolved(t, resolve, "Default rate limit set to 60/min", "Restart gateway to apply")


def test_a_failing_release_is_cured_by_the_operations_rollback() -> None:
    scenario = "gateway-ops-bad-release"
    resolve = "resolve v0.2.3 needs config schema 2 -- Rolled back to v0.1.0"
    commands = ["goto deploy", "run", "goto health", "run", "causes", "goto rollback",
                "fix rollback", "approve", "run pod-conditions", "run readiness", "say update",
                resolve]  # fmt: skip
    t = drill(scenario, commands)

    assert "example/api-gateway:v0.2.3, 4m ago" in t.reply("run", 0)
    health = t.reply("run", 1)
    assert "[PROBLEM] readiness" in health
    assert "CrashLoopBackOff" in health
    top_cause(t, scenario)

    assert "example/api-gateway:v0.2.3 -> example/api-gateway:v0.1.0" in t.reply("fix rollback")
    applied = t.reply("approve")
    assert "applied by oncall" in applied
    assert "verification: [ok] deployment/api-gateway rolled out: 3/3 replicas available" in applied
    assert "3/3 pods ready (app=api-gateway)" in t.reply("run pod-conditions")
    assert "[ok] readiness" in t.reply("run readiness")

    update_posted(t, "Rollback to previous version")
    resolved(t, resolve, "v0.2.3 needs config schema 2", "Rollback to previous version")


@pytest.mark.parametrize(
    "playbook",
    ["api-gateway-5xx", "api-gateway-latency", "api-gateway-auth-failures",
     "api-gateway-rate-limiting", "api-gateway-operations"],
)  # fmt: skip
def test_every_gateway_incident_playbook_has_a_drill(playbook: str) -> None:
    assert scenarios_for(playbook), playbook


def test_a_verification_without_its_binding_fails_at_once_with_the_reason(
    sandbox: Callable[[str], Sandbox], tmp_path: Path
) -> None:
    """The operations outage recovery checks the live URL; a binding without one says so now."""
    sb = sandbox("gateway-ops-bad-release")
    env = console_env(sb, tmp_path, RUNBOOK_BOT_STATE=str(tmp_path / "state.db"))
    config = yaml.safe_load(Path(env["RUNBOOK_BOT_CONFIG"]).read_text(encoding="utf-8"))
    del config["services"]["api-gateway"]["live_url"]
    Path(env["RUNBOOK_BOT_CONFIG"]).write_text(yaml.safe_dump(config), encoding="utf-8")
    commands = ["open api-gateway-operations api-gateway", "goto outage-recovery",
                "verify verify-deployment-live"]  # fmt: skip
    t = run_bot(["console"], commands, env)
    assert t.returncode == 0, t.stdout + t.stderr
    lines = t.lines("verify verify-deployment-live")
    assert lines == [
        "[error] verify-deployment-live: Verify deployment: liveness",
        "    this check cannot run: service 'api-gateway' has no live_url configured",
    ], lines
