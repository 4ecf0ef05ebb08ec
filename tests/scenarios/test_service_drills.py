"""Drills of service-down (seed 003) and api-down-docker-k8s (seed 002), walked as a responder.

Each runs the real `runbook-bot drill` on its scenario, with the shipped playbook alone in a temp
playbook folder so that other playbooks being edited cannot stop the drill from starting.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.drills.catalog import named
from bot.drills.docker import load_scenario as load_docker_scenario
from bot.drills.kubernetes.scenario import load_scenario
from tests.scenarios.conftest import READY_DELAY, Transcript, bot_env, run_bot

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"


def drill(tmp_path: Path, playbook: str, scenario: str, commands: list[str]) -> Transcript:
    folder = tmp_path / "playbooks"
    folder.mkdir(exist_ok=True)
    shutil.copy(PLAYBOOKS / f"{playbook}.yml", folder)
    args = ["drill", playbook, "--scenario", scenario, "--ready-delay", READY_DELAY]
    transcript = run_bot(args, commands, bot_env(RUNBOOK_BOT_PLAYBOOKS=str(folder)))
    assert "Traceback" not in transcript.stdout + transcript.stderr, transcript.stderr
    assert transcript.returncode == 0, transcript.stdout + transcript.stderr
    assert len(transcript.replies) == len(commands), transcript.stdout
    return transcript


def top_cause(reply: str) -> str:
    """The title of the first suggested root cause in a reply."""
    line = next(x for x in reply.splitlines() if x.startswith("Suggested root cause: "))
    return line.removeprefix("Suggested root cause: ").split(" (")[0]


@pytest.mark.parametrize(
    ("scenario", "playbook", "cause"),
    [
        ("service-db-down", "service-down", "database-down"),
        ("conduit-oom-under-load", "api-down-docker-k8s", "out-of-memory"),
        ("conduit-oom-killed", "api-down-docker-k8s", "out-of-memory"),
    ],
)
def test_the_scenarios_drill_their_playbook_and_name_its_cause(
    scenario: str, playbook: str, cause: str
) -> None:
    assert named(scenario).playbook == playbook
    load = load_docker_scenario if named(scenario).platform == "docker" else load_scenario
    assert load(scenario).root_cause == cause


def test_service_down_with_its_database_down_from_diagnosis_to_resolution(
    tmp_path: Path,
) -> None:
    t = drill(
        tmp_path,
        "service-down",
        "service-db-down",
        [
            "run",
            "goto quick-health",
            "run",
            "goto database-connectivity",
            "run",
            "goto external-dependencies",
            "run",
            "causes",
            "fix restart-postgres",
            "approve",
            "approve A1 as lead",
            "run pods",
            "run db-connection",
            "goto restoration-verification",
            "verify verify-pods",
            "verify verify-api-health",
            "verify verify-frontend-health",
            "run frontend-api-connectivity",
            "say status-page",
            "resolve Stale postmaster.pid after a node reboot -- Deleted postgres-0",
        ],
    )
    assert "scenario 'service-db-down'" in t.preamble
    assessed = t.reply("run")
    assert "0/3 pods ready: 3 Running unready" in assessed
    assert "service backend: 0 ready endpoint(s), 3 not ready" in assessed
    # From the quick health check on, the database leads: the service's logs blame it and
    # the events show its pod crash-looping.
    quick = t.reply("run", 1)
    assert "could not connect to database: connection refused" in quick
    assert top_cause(quick) == "Database service down"

    # The seed's checks from the service's pod and the bot's own both reach the database.
    database = t.reply("run", 2)
    assert "[PROBLEM] db-connection" in database
    assert "psql -h postgres.web3-marketplace-prod.svc.cluster.local" in database
    assert "port 5432 failed: Connection refused" in database
    assert "[PROBLEM] db-ready" in database
    assert 'FATAL:  lock file "postmaster.pid" already exists' in database
    # Redis is checked from the pod on its in-cluster name, and answers; so does the vendor API.
    external = t.reply("run", 3)
    assert "[ok] redis-connectivity" in external and "exit 0: PONG" in external
    assert "[ok] external-api" in external
    assert "curl -I https://api.external-service.com/health" in external

    causes = t.reply("causes")
    assert top_cause(causes) == "Database service down"
    assert "Also possible: Backend service down" in causes

    request = t.reply("fix restart-postgres")
    assert "Dry run: delete pod/postgres-0" in request
    assert "destructive: it needs an approver other than the requester" in t.reply("approve")
    applied = t.reply("approve A1 as lead")
    assert "applied by lead" in applied
    assert "verification: [ok] 1/1 pods ready (app=postgres)" in applied

    # The database's return cures the service: its pods get ready, its pod reaches postgres.
    assert "[ok] pods: Check service status" in t.reply("run pods")
    assert "3/3 pods ready (app=backend)" in t.reply("run pods")
    assert "[ok] db-connection" in t.reply("run db-connection")
    assert "[ok] verify-pods" in t.reply("verify verify-pods")
    assert "200 OK" in t.reply("verify verify-api-health")
    # As users reach it, through the frontend; and the frontend reaches it in the cluster.
    frontend = t.reply("verify verify-frontend-health")
    assert "[ok] verify-frontend-health" in frontend and "/api/health: 200 OK" in frontend
    reach = t.reply("run frontend-api-connectivity")
    assert "curl -I http://backend/health in pod/frontend-0" in reach
    assert "exit 0: HTTP/1.1 200 OK" in reach

    posted = t.reply("say status-page")
    assert "Posted status update 'status-page'" in posted
    assert "Status: investigating · Impact: major" in posted
    document = t.reply("resolve Stale postmaster.pid after a node reboot -- Deleted postgres-0")
    assert "INC-0001 resolved." in document
    assert "**Root Cause:** Stale postmaster.pid after a node reboot" in document
    assert "Restart PostgreSQL if needed (delete the primary pod): applied" in document
    assert "status-page by oncall" in document


def test_api_down_on_kubernetes_oom_under_load_cured_by_scaling_out(tmp_path: Path) -> None:
    t = drill(
        tmp_path,
        "api-down-docker-k8s",
        "conduit-oom-under-load",
        [
            "run",
            "goto container-status",
            "run",
            "goto system-resources",
            "run",
            "causes",
            "fix k8s-scale",
            "approve",
            "run k8s-pods",
            "run health",
            "run k8s-test-db",
            "run k8s-appsettings",
            "say update",
            "resolve Cache outgrew one replica's 512Mi under load -- Scaled to 3 replicas",
        ],
    )
    assert "[PROBLEM] health" in t.reply("run")
    assert "1 CrashLoopBackOff (last terminated: OOMKilled)" in t.reply("run", 1)
    assert "memory 97%" in t.reply("run", 2)
    causes = t.reply("causes")
    assert top_cause(causes) == "Out of memory under load"
    assert "see also: " in causes and "k8s-scale" in causes.partition("see also: ")[2]

    assert "replicas 1 -> 3" in t.reply("fix k8s-scale")
    applied = t.reply("approve")
    assert "applied by oncall" in applied
    assert "verification: [ok] deployment/conduit-api rolled out: 3/3 replicas available" in applied
    assert "3/3 pods ready (app=conduit-api)" in t.reply("run k8s-pods")
    assert '"status": "healthy"' in t.reply("run health")
    # The seed's in-container checks, run in a pod of the deployment now that one runs.
    test_db = t.reply("run k8s-test-db")
    assert "[ok] k8s-test-db" in test_db
    assert "Database connection test: OK (postgres.default.svc.cluster.local" in test_db
    assert '"AllowedHosts": "*"' in t.reply("run k8s-appsettings")

    posted = t.reply("say update")
    assert "Posted status update 'update'" in posted
    assert "Scale horizontally to 3 replicas (if under load): applied" in posted
    document = t.reply(
        "resolve Cache outgrew one replica's 512Mi under load -- Scaled to 3 replicas"
    )
    assert "INC-0001 resolved." in document
    assert "**Resolution:** Scaled to 3 replicas" in document


def test_api_down_on_docker_oom_killed_container_restarted(tmp_path: Path) -> None:
    t = drill(
        tmp_path,
        "api-down-docker-k8s",
        "conduit-oom-killed",
        [
            "run",
            "goto container-status",
            "run",
            "goto system-resources",
            "run",
            "causes",
            "goto application-issues",
            "run docker-env",
            "fix docker-restart",
            "approve",
            "run docker-container",
            "run health-ready",
            "run health-live",
            "run docker-test-db",
            "run docker-stats",
            "say update",
            "resolve A burst of oversized requests outgrew 1 GiB -- Restarted conduit-api",
        ],
    )
    assert "Sandbox Docker engine at tcp://127.0.0.1:" in t.preamble
    # All three of the seed's probes, each on its own path of the published port.
    outage = t.reply("run")
    for probe in ("/health:", "/health/ready:", "/health/live:"):
        assert f"{probe} connection refused" in outage
    status = t.reply("run", 1)
    assert "conduit-api: exited (code 137, OOM killed)" in status
    assert "not running, no stats" in t.reply("run", 2)
    causes = t.reply("causes")
    assert top_cause(causes) == "Out of memory under load"
    assert "docker.oom_killed=True on conduit-api" in causes
    assert 'Container logs end in "Killed"' in causes
    assert "3 variable(s) starting with CONDUIT" in t.reply("run docker-env")

    assert "Approval A1 is needed" in t.reply("fix docker-restart")
    applied = t.reply("approve")
    assert "result: [ok] restarted container conduit-api" in applied
    assert "verification: [ok] GET http" in applied and "/health: 200 OK" in applied
    assert "oom_killed: False" in t.reply("run docker-container")
    assert "[ok] health-ready" in t.reply("run health-ready")
    assert '"status": "Healthy"' in t.reply("run health-live")
    assert "Database connection test: OK" in t.reply("run docker-test-db")
    # Back under its limit once the burst is over.
    assert "memory 640 MiB of 1024 MiB" in t.reply("run docker-stats")

    posted = t.reply("say update")
    # One line per fix, then the next update on its own line.
    assert "- Restart the API service: applied (restarted container conduit-api" in posted
    assert "\n  | Next update within 15 min." in posted
    document = t.reply(
        "resolve A burst of oversized requests outgrew 1 GiB -- Restarted conduit-api"
    )
    assert "INC-0001 resolved." in document
    assert "Restart the API service: applied" in document
    spec = load_docker_scenario("conduit-oom-killed")
    markers = ("PASSWORD", "KEY")
    secrets = [
        v
        for c in spec.containers.values()
        for k, v in c.env.items()
        if any(m in k for m in markers)
    ]
    assert len(secrets) == 3
    for secret in secrets:
        assert secret not in t.stdout + t.stderr
