"""`runbook-bot drill api-down` end to end: commands from a pipe, the real sandbox cluster."""

from __future__ import annotations

from tests.scenarios.conftest import READY_DELAY, Transcript, bot_env, run_bot


def drill(commands: list[str], *options: str) -> Transcript:
    args = ["drill", "api-down", "--ready-delay", READY_DELAY, *options]
    transcript = run_bot(args, commands, bot_env())
    assert "Traceback" not in transcript.stdout + transcript.stderr, transcript.stderr
    assert transcript.returncode == 0, transcript.stdout + transcript.stderr
    assert len(transcript.replies) == len(commands), transcript.stdout
    return transcript


def test_oom_drill_from_diagnosis_to_post_incident_document() -> None:
    t = drill(
        [
            "run",
            "causes",
            "goto full-recovery",
            "fix rollback",
            "run pods",
            "approve",
            "run pods",
            "verify verify-health",
            "approve A1",
            "timeline",
            "resolve Memory limit too low for 2.5.0 -- Rolled back to 2.4.0",
        ]
    )
    assert "scenario 'oom-bad-deploy'" in t.preamble
    assert "stage 1/9: Immediate response: assess scope" in t.preamble

    diagnosis = t.reply("run")
    assert "[PROBLEM] pods: Check service pods" in diagnosis
    assert "3 CrashLoopBackOff (last terminated: OOMKilled)" in diagnosis
    assert "Suggested root cause: Resource exhaustion" in diagnosis
    assert t.lines("causes")[0].startswith("Suggested root cause: Resource exhaustion")
    assert "stage 8/9: Recovery: full service recovery" in t.reply("goto full-recovery")

    request = t.reply("fix rollback")
    assert "Dry run: roll back deployment/ecap-api" in request
    assert "ecap/api:2.5.0 -> ecap/api:2.4.0" in request
    assert "-containers[ecap-api].image: ecap/api:2.5.0" in request
    assert "Approval A1 is needed" in request

    # Requesting a fix changes nothing: the pods still crash until someone approves.
    waiting = t.reply("run pods", 0)
    assert "[PROBLEM] pods" in waiting
    assert "0/3 pods ready" in waiting
    assert "CrashLoopBackOff" in waiting

    applied = t.reply("approve")
    assert "applied by oncall" in applied
    assert "result: [ok] roll back deployment/ecap-api" in applied
    assert "verification: [ok] deployment/ecap-api rolled out: 3/3 replicas available" in applied

    healed = t.reply("run pods", 1)
    assert "[ok] pods: Check service pods" in healed
    assert "3/3 pods ready" in healed
    assert "CrashLoopBackOff" not in healed

    health = t.lines("verify verify-health")
    assert any(line.startswith("[ok] verify-health: Verify health") for line in health)
    assert '"status": "healthy"' in health[-1]

    # The fix runs once: a second approval is refused and nothing is applied again.
    again = t.reply("approve A1")
    assert "error: approval A1 is already applied" in again
    assert "result:" not in again

    timeline = t.reply("timeline")
    assert timeline.count("fix-requested") == 1
    assert timeline.count("fix-approved") == 1
    assert timeline.count("fix-applied") == 1

    document = t.reply("resolve Memory limit too low for 2.5.0 -- Rolled back to 2.4.0")
    assert "INC-0001 resolved." in document
    assert "# Post-incident report: INC-0001" in document
    assert "**Root Cause:** Memory limit too low for 2.5.0" in document
    assert "**Resolution:** Rolled back to 2.4.0" in document
    assert "## Timeline" in document
    timeline_rows = document.split("## Timeline", 1)[1]
    for event in ("opened", "diagnostic", "fix-requested", "fix-applied", "resolved"):
        assert f"| {event} |" in timeline_rows
    assert timeline_rows.count("| fix-applied |") == 1


def test_pending_pods_are_not_cured_by_lowering_resources_but_by_the_rollback() -> None:
    """ "Scale up resources" never lowers the 16Gi request; rolling the change back cures."""
    t = drill(
        [
            "run",
            "fix scale-up-resources",
            "goto full-recovery",
            "fix rollback",
            "approve",
            "run pods",
        ],
        "--scenario",
        "pending-resources",
    )

    diagnosis = t.reply("run")
    assert "0/3 pods ready" in diagnosis
    assert "Pending" in diagnosis
    assert "Suggested root cause: Resource exhaustion" in diagnosis
    assert "Pods in Pending state" in diagnosis

    refused = t.reply("fix scale-up-resources")
    assert "nothing to raise" in refused
    assert "requests.memory is 16Gi, not below 1Gi" in refused
    assert "its menu offers: x1.5 the current requests and limits" in refused
    assert "16Gi -> 1Gi" not in refused
    assert "Approval A1" not in refused

    request = t.reply("fix rollback")
    assert "roll back deployment/ecap-api to revision 2" in request
    assert "limits.memory 16Gi -> 512Mi" in request
    assert "applied by oncall" in t.reply("approve")
    after = t.reply("run pods")
    assert "[ok] pods" in after
    assert "3/3 pods ready" in after
    assert "Pending" not in after


def test_replica_counts_and_resource_factors_are_picked_from_menus() -> None:
    """oom-bad-deploy: 2.5.0 needs 900Mi; x2 of the 512Mi limit cures it, x1.5 would not."""
    t = drill(
        [
            "fix scale-up",
            "fix scale-up --to 9",
            "fix scale-up --to x",
            "fix scale-up --to 6",
            "fix scale-up-resources --to 150",
            "fix scale-up-resources --to 200",
            "approve A4",
            "run pods",
            "timeline",
        ]
    )
    first = t.reply("fix scale-up")
    assert "Fix requested: Scale up to 5 replicas" in first
    assert "replicas 3 -> 5" in first
    assert (
        "Other replica counts: 3 replicas (current); 4 replicas (one more); 5 replicas "
        "(the runbook's); 6 replicas (twice the current) (`fix scale-up --to N` picks one)"
    ) in first
    assert t.lines("fix scale-up --to 9") == [
        "error: replica count 9 is not on the menu (offered: 3, 4, 5, 6)"
    ]
    assert t.lines("fix scale-up --to x") == ["error: --to takes a replica count number, not 'x'"]
    picked = t.reply("fix scale-up --to 6")
    assert "Fix requested: Scale to 6 replicas (kubectl scale --replicas=6)" in picked
    assert "replicas 3 -> 6" in picked

    half = t.reply("fix scale-up-resources --to 150")
    assert "Raise requests and limits to x1.5 the current values" in half
    assert "limits.memory 512Mi -> 768Mi" in half
    assert "Other factors: x2 the current requests and limits" in half
    double = t.reply("fix scale-up-resources --to 200")
    assert "limits.memory 512Mi -> 1Gi" in double
    assert "Approval A4 is needed" in double
    assert "applied by oncall" in t.reply("approve A4")
    assert "3/3 pods ready" in t.reply("run pods")
    timeline = t.reply("timeline")
    assert "replaced by approval A2" in timeline and "replaced by approval A4" in timeline
    assert timeline.count("fix-applied") == 1


def test_database_restart_needs_a_second_approver() -> None:
    t = drill(
        [
            "run",
            "goto database-recovery",
            "run",
            "fix restart-db",
            "approve",
            "run db-status",
            "approve as lead",
            "run db-status",
            "verify verify-health",
        ],
        "--scenario",
        "database-down",
    )
    assert "Suggested root cause: Database connection issues" in t.reply("run", 0)
    assert "(postgres down)" in t.reply("run", 0)
    db = t.reply("run", 1)
    assert "postgres-0   0/1     CrashLoopBackOff" in db
    assert "Permission denied" in db

    request = t.reply("fix restart-db")
    assert "Dry run: delete pod/postgres-0" in request
    assert "Approval A1 is needed by someone other than the requester" in request

    refused = t.reply("approve")
    assert "error: this fix is destructive: it needs an approver other than the requester" in (
        refused
    )
    assert "result:" not in refused
    assert "CrashLoopBackOff" in t.reply("run db-status", 0)

    applied = t.reply("approve as lead")
    assert "applied by lead" in applied
    assert "result: [ok] delete pod/postgres-0" in applied
    assert "1/1 pods ready (app=postgres)" in t.reply("run db-status", 1)
    health = t.reply("verify verify-health")
    assert "[ok] verify-health" in health
    assert '"postgres": "up"' in health


def test_bad_input_gets_one_error_line_and_the_drill_goes_on() -> None:
    bad = [
        "frobnicate",
        "run nosuchstep",
        "goto nowhere",
        "show pods",
        "fix pods",
        "approve",
        'run "unbalanced',
        "verify",
    ]
    t = drill([*bad, "run pods"])
    for command in bad:
        lines = t.lines(command)
        assert len(lines) == 1, (command, lines)
        assert lines[0].startswith("error: "), (command, lines)
    assert "unknown command 'frobnicate'" in t.reply("frobnicate")
    assert "nosuchstep" in t.reply("run nosuchstep")
    assert "not a fix" in t.reply("fix pods")
    assert "no fix is waiting for approval" in t.reply("approve")
    assert "[PROBLEM] pods: Check service pods" in t.reply("run pods")


def test_unknown_scenario_is_refused_in_one_line() -> None:
    t = run_bot(["drill", "api-down", "--scenario", "no-such-scenario"], [], bot_env())
    assert t.returncode == 1
    assert t.stdout == ""
    lines = t.stderr.splitlines()
    assert len(lines) == 1, t.stderr
    assert lines[0].startswith("error: no drill scenario 'no-such-scenario'")
    assert "oom-bad-deploy" in lines[0]


def test_rollback_is_kubectl_rollout_undo_with_a_menu_of_real_revisions() -> None:
    """pending-resources: the previous revision is the config-only release 2 (same image)."""
    t = drill(
        [
            "fix rollback",
            "fix rollback --to x",
            "fix rollback --to 9",
            "fix rollback --to 1",
            "approve",
            "timeline",
        ],
        "--scenario",
        "pending-resources",
    )
    first = t.reply("fix rollback")
    assert "roll back deployment/ecap-api to revision 2" in first
    assert "Other revisions: revision 2: ecap/api:2.4.0; revision 1: ecap/api:2.3.9" in first
    assert t.lines("fix rollback --to x") == ["error: --to takes a revision number, not 'x'"]
    assert t.lines("fix rollback --to 9") == [
        "error: revision 9 is not one to roll back to (offered: 2, 1)"
    ]
    picked = t.reply("fix rollback --to 1")
    assert "Roll back to revision 1 (kubectl rollout undo --to-revision=1)" in picked
    assert "ecap/api:2.4.0 -> ecap/api:2.3.9" in picked
    assert "applied" in t.reply("approve")
    timeline = t.reply("timeline")
    assert "replaced by approval A2" in timeline
    assert timeline.count("fix-applied") == 1


def test_an_slo_check_without_prometheus_says_so_at_once() -> None:
    t = drill(["goto investigate-application", "run slo-p95"])
    result = t.reply("run slo-p95")
    assert "[error] slo-p95: API response time (p95 < 1s)" in result
    assert "no Prometheus is configured (set prometheus.url in the config)" in result


def test_dependency_checks_run_from_an_api_pod_and_from_the_bot() -> None:
    t = drill(
        [
            "run db-from-pod",
            "run db-connectivity",
            "run redis-from-pod",
            "run config-file",
            "run dns",
            "run env",
            "causes",
        ],
        "--scenario",
        "database-down",
    )
    pod = t.reply("run db-from-pod")
    assert "[PROBLEM] db-from-pod" in pod
    assert "psql -h postgres.default.svc.cluster.local -c SELECT 1 in pod/ecap-api-" in pod
    assert "Connection refused" in pod
    assert "[PROBLEM] db-connectivity" in t.reply("run db-connectivity")
    redis = t.reply("run redis-from-pod")
    assert "[ok] redis-from-pod" in redis and "exit 0: PONG" in redis
    config = t.reply("run config-file")
    assert "[ok] config-file" in config and "pool_size: 20" in config
    dns = t.reply("run dns")
    assert "[ok] dns" in dns and "Name:" in dns
    # The config map's variables come in by envFrom; ECAP_ ones are the deployment's own.
    assert "[ok] env" in t.reply("run env")
    assert "Database unreachable from the API pods" in t.reply("causes")


def test_database_diagnostics_run_against_the_drill_database() -> None:
    t = drill(
        ["run postgres-version", "run db-connections", "run blocking-queries"],
        "--scenario",
        "oom-bad-deploy",
    )
    version = t.reply("run postgres-version")
    assert "[ok] postgres-version" in version
    assert "accepting connections (PostgreSQL 15.4)" in version
    assert "PostgreSQL 15.4 on x86_64-pc-linux-gnu" in version
    connections = t.reply("run db-connections")
    assert "[ok] db-connections" in connections
    assert (
        "16 connection(s)" in connections
        and "(3 active, 12 idle, 1 idle in transaction)" in connections
    )
    assert "[ok] blocking-queries" in t.reply("run blocking-queries")
    assert "no active query running longer than 5m" in t.reply("run blocking-queries")
