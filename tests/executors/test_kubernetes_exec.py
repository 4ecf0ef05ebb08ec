"""k8s.exec through the real client's websocket stream against the sandbox's exec endpoint."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from bot.executors.base import CheckResult
from bot.executors.kubernetes import params as p
from tests.executors.conftest import Started
from tests.support.findings import values


def exec_action(*command: str, **fields: Any) -> p.K8sExec:
    return p.K8sExec(type="k8s.exec", command=list(command), **fields)


async def test_exec_runs_in_a_running_pod_and_reports_exit_zero(
    start: Callable[[str], Started],
) -> None:
    # database-down: the app's pods run (unready), redis is up, postgres is crash-looping.
    _, executor, binding = start("database-down")
    result = await executor.check(exec_action("redis-cli", "-h", "redis", "ping"), binding)
    assert result.status == "ok", result.summary
    assert values(result, "exec.exit_code") == [0]
    assert values(result, "exec.output") == ["PONG"]
    assert result.findings[0].subject.startswith("pod/ecap-api-")
    assert "exit 0: PONG" in result.summary


async def test_exec_non_zero_exit_is_a_problem_with_its_output(
    start: Callable[[str], Started],
) -> None:
    _, executor, binding = start("database-down")
    result = await executor.check(exec_action("pg_isready", "-h", "postgres"), binding)
    assert result.status == "problem"
    assert values(result, "exec.exit_code") == [2]
    assert "postgres:5432 - no response" in result.output
    psql = exec_action("psql", "-h", "postgres", "-U", "ecap", "-c", "SELECT 1;")
    failed = await executor.check(psql, binding)
    assert values(failed, "exec.exit_code") == [2] and "Connection refused" in failed.output


async def test_exec_sees_a_healthy_dependency_once_it_is_back(
    start: Callable[[str], Started],
) -> None:
    _, executor, binding = start("database-down")
    fix = p.K8sDeletePod(type="k8s.delete_pod", pod="postgres-0")
    assert (await executor.apply(fix, binding)).status == "ok"
    ready = await executor.check(exec_action("pg_isready", "-h", "postgres"), binding)
    assert ready.status == "ok" and "accepting connections" in ready.output
    psql = exec_action("psql", "-h", "postgres", "-c", "SELECT 1;")
    row = await executor.check(psql, binding)
    assert row.status == "ok" and "(1 row)" in row.output


async def test_exec_output_is_redacted(start: Callable[[str], Started]) -> None:
    sandbox, executor, binding = start("database-down")
    result = await executor.check(exec_action("env"), binding)
    assert result.status == "ok"
    assert "ECAP_DB_HOST=postgres.default.svc.cluster.local" in result.output
    assert "ECAP_DB_PASSWORD=[redacted]" in result.output
    shown = result.model_dump_json()
    assert not [s for s in sandbox.secret_values() if s in shown]


async def test_unknown_command_is_exit_126_not_a_shell(start: Callable[[str], Started]) -> None:
    _, executor, binding = start("database-down")
    result = await executor.check(exec_action("sh", "-c", "echo hi; rm -rf /"), binding)
    assert result.status == "problem"
    assert values(result, "exec.exit_code") == [126]
    assert "command not found in sandbox" in result.output


async def test_exec_with_no_running_pod_is_one_line_error(
    start: Callable[[str], Started],
) -> None:
    _, executor, binding = start("oom-bad-deploy")
    result = await executor.check(exec_action("env"), binding)
    assert result.status == "error"
    assert result.summary == "no running pod of deployment/ecap-api to exec into"
    by_deployment = await executor.check(exec_action("env", deployment="ecap-api"), binding)
    assert by_deployment.summary == "no running pod of deployment/ecap-api to exec into"


async def test_exec_in_a_named_pod(start: Callable[[str], Started]) -> None:
    _, executor, binding = start("oom-bad-deploy")
    ok = await executor.check(exec_action("df", "-h", "/var/lib/postgresql/data", pod="postgres-0"),
                              binding)  # fmt: skip
    assert ok.status == "ok", ok.summary
    assert "/var/lib/postgresql/data" in ok.output and "38%" in ok.output
    pods = await executor.check(p.K8sPods(type="k8s.pods"), binding)
    crashing = next(f.subject for f in pods.findings if f.name == "pod.phase").split("/", 1)[1]
    refused = await executor.check(exec_action("env", pod=crashing), binding)
    assert refused.status == "error"
    assert refused.summary == f"pod {crashing} is not running (CrashLoopBackOff): cannot exec"
    missing = await executor.check(exec_action("env", pod="nope-0"), binding)
    assert missing.status == "error"
    assert missing.summary == "not found: pod nope-0 in namespace default"


async def test_exec_in_a_container_the_pod_lacks(start: Callable[[str], Started]) -> None:
    _, executor, binding = start("oom-bad-deploy")
    result = await executor.check(exec_action("env", pod="redis-0", container="sidecar"), binding)
    assert result.status == "error"
    assert result.summary == "no container sidecar in pod redis-0 (containers: redis)"


async def test_exec_alongside_other_reads(start: Callable[[str], Started]) -> None:
    # A stage runs its checks at once; an exec's stream must not take over their connections.
    sandbox, executor, binding = start("database-down")
    # Slow answers hold each exec's handshake open while the other reads are being sent.
    sandbox.set_latency(0.3)
    reads = [p.K8sPods(type="k8s.pods"), p.K8sEvents(type="k8s.events"), p.K8sEnv(type="k8s.env")]

    async def read_later(action: Any, delay: float) -> CheckResult:
        await asyncio.sleep(delay)
        return await executor.check(action, binding)

    ping = exec_action("redis-cli", "-h", "redis", "ping")
    results = await asyncio.gather(
        *(executor.check(ping, binding) for _ in range(3)),
        *(read_later(action, i / 10) for action in reads for i in range(8)),
    )
    assert [r.summary for r in results if r.status == "error"] == []
    assert [r.output for r in results[:3]] == ["PONG"] * 3


async def test_a_program_the_image_lacks_is_one_line_and_no_failure_finding(
    start: Callable[[str], Started],
) -> None:
    _, executor, binding = start("database-down")
    result = await executor.check(exec_action("kafka-topics.sh", "--list"), binding)
    assert result.status == "problem"
    pod = result.findings[0].subject
    assert result.summary == (
        f"kafka-topics.sh is not in the image of {pod} (ecap-api): cannot run "
        "kafka-topics.sh --list there"
    )
    assert values(result, "exec.missing_program") == ["kafka-topics.sh"]
    # A symptom "the database is unreachable from the pod" reads exec.failed: not set here.
    assert values(result, "exec.failed") == []
    failed = await executor.check(exec_action("pg_isready", "-h", "postgres"), binding)
    assert values(failed, "exec.failed") == [True]


async def test_name_resolution_from_inside_the_pod(start: Callable[[str], Started]) -> None:
    _, executor, binding = start("database-down")
    host = "postgres.default.svc.cluster.local"
    found = await executor.check(exec_action("nslookup", host), binding)
    assert found.status == "ok", found.output
    assert f"Name:\t{host}" in found.output and "Address: 10.96." in found.output
    short = await executor.check(exec_action("nslookup", "redis"), binding)
    assert "Name:\tredis.default.svc.cluster.local" in short.output
    unknown = await executor.check(exec_action("nslookup", "nope.default.svc"), binding)
    assert unknown.status == "problem" and values(unknown, "exec.failed") == [True]
    assert "** server can't find nope.default.svc: NXDOMAIN" in unknown.output


# An unclosed socket is reported from its finalizer, as an unraisable exception: both must fail.
@pytest.mark.filterwarnings(
    "error::ResourceWarning", "error::pytest.PytestUnraisableExceptionWarning"
)
async def test_exec_leaves_no_socket_open(start: Callable[[str], Started]) -> None:
    _, executor, binding = start("database-down")
    with warnings.catch_warnings():
        # What earlier tests left for the collector is not this test's to report.
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    ran = await executor.check(exec_action("redis-cli", "-h", "redis", "ping"), binding)
    failed = await executor.check(exec_action("redis-cli", "-h", "postgres", "ping"), binding)
    assert (ran.status, failed.status) == ("ok", "problem"), (ran.summary, failed.summary)
    # The websocket and its client are garbage now; collecting them finalizes any open socket.
    gc.collect()
