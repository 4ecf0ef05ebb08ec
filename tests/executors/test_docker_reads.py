"""Docker reads against a real engine: state, logs, stats, inspect, env and exec."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bot.config import ServiceBinding
from bot.executors.base import CheckResult
from bot.executors.docker import DockerExecutor
from bot.executors.docker.params import (
    DockerContainer,
    DockerEnv,
    DockerExec,
    DockerInspect,
    DockerLogs,
    DockerStats,
)
from tests.support.docker_engine import DockerEngine, docker_engine_fixture  # noqa: F401

pytestmark = pytest.mark.slow

SECRET = "hunter2-Sup3r-secret-value"
HEALTHCHECK = {
    "test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/health"],
    "interval": 500_000_000,
    "timeout": 2_000_000_000,
    "retries": 3,
}


def found(result: CheckResult, name: str) -> list[Any]:
    return [f.value for f in result.findings if f.name == name]


def one(result: CheckResult, name: str) -> Any:
    values = found(result, name)
    assert len(values) == 1, (name, result)
    return values[0]


@pytest.fixture(scope="module")
def containers(docker_engine: DockerEngine) -> Iterator[dict[str, str]]:
    """The module's containers, started once: a healthy web server and three broken ones."""
    engine = docker_engine
    names = {
        "web": engine.name("web"),
        "crashed": engine.name("crashed"),
        "oom": engine.name("oom"),
        "restarting": engine.name("restarting"),
    }
    engine.run(
        "web",
        ["httpd", "-f", "-p", "8080", "-h", "/www"],
        ports={"8080/tcp": ("127.0.0.1", None)},
        mem_limit="64m",
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 3},
        environment={"APP_MODE": "production", "APP_DB_PASSWORD": SECRET, "OTHER": "x"},
        healthcheck=HEALTHCHECK,
        labels={"com.docker.compose.project": "shop", "com.docker.compose.service": "web"},
    )
    engine.run(
        "crashed",
        [
            "sh",
            "-c",
            'echo "starting api"; echo "Traceback (most recent call last):"; '
            'echo "  File app.py, line 3"; echo "ConnectionError: database refused" >&2; exit 3',
        ],
    )
    # The kernel kills dd; the shell outlives it by a moment and exits with its status (137).
    # A container that ends within milliseconds of the kill can lose the engine's OOM event on
    # cgroup v2 (its cgroup is gone before the event is read; hashicorp/nomad#13119), leaving
    # exit 137 with OOMKilled false.
    engine.run(
        "oom",
        ["sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1; code=$?; sleep 2; exit $code"],
        mem_limit="8m",
        memswap_limit="8m",
    )
    engine.run("restarting", ["sh", "-c", "echo boom; exit 1"], restart_policy={"Name": "always"})
    engine.wait_until(
        names["web"], lambda a: a["State"].get("Health", {}).get("Status") == "healthy"
    )
    engine.wait_until(names["crashed"], lambda a: a["State"]["Status"] == "exited")
    # The engine handles the OOM event and the exit separately; wait for both.
    engine.wait_until(
        names["oom"], lambda a: a["State"]["Status"] == "exited" and a["State"]["OOMKilled"]
    )
    engine.wait_until(names["restarting"], lambda a: a["RestartCount"] >= 2)
    yield names
    engine.remove_all()


@pytest.fixture
async def executor(docker_engine: DockerEngine) -> AsyncIterator[DockerExecutor]:
    ex = DockerExecutor(docker_engine.url)
    yield ex
    await ex.close()


def bound(name: str) -> ServiceBinding:
    return ServiceBinding(platform="docker", container=name)


async def test_a_healthy_container_is_ok(
    executor: DockerExecutor, containers: dict[str, str]
) -> None:
    result = await executor.check(
        DockerContainer(type="docker.container"), bound(containers["web"])
    )

    assert result.status == "ok", result
    assert one(result, "docker.exists") is True
    assert one(result, "docker.state") == "running"
    assert one(result, "docker.running") is True
    assert one(result, "docker.health") == "healthy"
    assert one(result, "docker.oom_killed") is False
    assert result.summary.startswith(f"{containers['web']}: running (healthy), up ")
    assert {f.subject for f in result.findings} == {containers["web"]}


async def test_a_crashed_container_is_a_problem_with_its_traceback(
    executor: DockerExecutor, containers: dict[str, str]
) -> None:
    target = bound(containers["crashed"])
    state = await executor.check(DockerContainer(type="docker.container"), target)
    logs = await executor.check(DockerLogs(type="docker.logs"), target)

    assert state.status == "problem"
    assert one(state, "docker.state") == "exited"
    assert one(state, "docker.exit_code") == 3
    assert one(state, "docker.running") is False
    assert f"{containers['crashed']}: exited (code 3)" in state.summary
    assert "\n" not in state.summary
    assert logs.status == "problem"
    assert one(logs, "logs.errors") == 2  # the Traceback line and the ConnectionError line
    assert "Traceback (most recent call last):" in one(logs, "logs.text")
    assert "starting api" in logs.output


async def test_logs_filter_by_match_and_tail(
    executor: DockerExecutor, containers: dict[str, str]
) -> None:
    target = bound(containers["crashed"])
    matched = await executor.check(DockerLogs(type="docker.logs", match="conn.*ERROR"), target)
    tail = await executor.check(DockerLogs(type="docker.logs", tail=1, since_minutes=60), target)

    assert matched.output == "ConnectionError: database refused"
    assert one(matched, "logs.errors") == 1
    assert tail.output.count("\n") == 0 and tail.output
    assert "last 1 lines, last 60 min" in tail.summary


async def test_an_oom_killed_container_says_so(
    executor: DockerExecutor, containers: dict[str, str]
) -> None:
    result = await executor.check(
        DockerContainer(type="docker.container"), bound(containers["oom"])
    )

    assert result.status == "problem"
    assert one(result, "docker.oom_killed") is True
    assert one(result, "docker.state") == "exited"
    assert one(result, "docker.exit_code") == 137
    assert f"{containers['oom']}: exited (code 137, OOM killed)" in result.summary


async def test_a_restarting_container_is_a_problem(
    executor: DockerExecutor, containers: dict[str, str]
) -> None:
    target = bound(containers["restarting"])
    seen = []
    # It is "running" for a few milliseconds between restarts; the back-off keeps it
    # restarting nearly all the time, so a handful of reads see it.
    for _ in range(20):
        result = await executor.check(DockerContainer(type="docker.container"), target)
        seen.append(result)
        if one(result, "docker.state") == "restarting":
            break
        await asyncio.sleep(0.2)
    result = seen[-1]

    assert one(result, "docker.state") == "restarting", [r.summary for r in seen]
    assert result.status == "problem"
    assert one(result, "docker.running") is False
    assert one(result, "docker.restart_count") >= 2
    assert "restarted" in result.summary


async def test_an_unknown_container_is_an_answer_for_state_and_an_error_otherwise(
    executor: DockerExecutor,
    docker_engine: DockerEngine,
) -> None:
    target = bound(docker_engine.name("api-server"))
    name = target.container
    state = await executor.check(DockerContainer(type="docker.container"), target)

    assert state.status == "problem"
    assert state.summary == f"no container named '{name}'"
    assert one(state, "docker.exists") is False
    for action in (
        DockerLogs(type="docker.logs"),
        DockerStats(type="docker.stats"),
        DockerInspect(type="docker.inspect"),
        DockerEnv(type="docker.env"),
        DockerExec(type="docker.exec", command=["true"]),
    ):
        result = await executor.check(action, target)
        assert result.status == "error", (action.type, result)
        assert result.summary == f"no container named '{name}'", action.type


async def test_stats_of_a_running_and_a_stopped_container(
    executor: DockerExecutor, containers: dict[str, str]
) -> None:
    running = await executor.check(DockerStats(type="docker.stats"), bound(containers["web"]))
    stopped = await executor.check(DockerStats(type="docker.stats"), bound(containers["crashed"]))

    assert running.status == "ok", running
    assert isinstance(one(running, "docker.cpu_percent"), float)
    assert 0 < one(running, "docker.memory_mi") < 64
    # Against the 64 MiB limit: a few hundred KiB of httpd is well under 10%.
    assert 0 < one(running, "docker.memory_percent") < 10
    assert "of 64 MiB" in running.summary
    assert stopped.status == "problem"
    assert "not running, no stats" in stopped.summary
    assert found(stopped, "docker.cpu_percent") == []


async def test_inspect_shows_ports_memory_limit_policy_and_compose_labels(
    executor: DockerExecutor,
    containers: dict[str, str],
    docker_engine: DockerEngine,
) -> None:
    port = docker_engine.host_port(containers["web"])
    web = await executor.check(DockerInspect(type="docker.inspect"), bound(containers["web"]))
    plain = await executor.check(DockerInspect(type="docker.inspect"), bound(containers["crashed"]))

    assert web.status == "ok"
    assert found(web, "docker.port") == [f"8080/tcp -> 127.0.0.1:{port}"]
    assert one(web, "docker.memory_limit_mi") == 64
    assert one(web, "docker.restart_policy") == "on-failure:3"
    assert one(web, "docker.image") == docker_engine.image
    assert one(web, "docker.compose_project") == "shop"
    assert one(web, "docker.compose_service") == "web"
    assert one(plain, "docker.memory_limit_mi") == 0
    assert one(plain, "docker.restart_policy") == "no"
    assert found(plain, "docker.port") == []


async def test_env_is_filtered_and_secrets_never_show(
    executor: DockerExecutor, containers: dict[str, str]
) -> None:
    target = bound(containers["web"])
    app = await executor.check(DockerEnv(type="docker.env", prefixes=["APP_"]), target)
    everything = await executor.check(DockerEnv(type="docker.env"), target)
    none = await executor.check(DockerEnv(type="docker.env", prefixes=["NOPE_"]), target)

    assert app.status == "ok"
    assert one(app, "env.count") == 2
    assert "APP_MODE=production" in app.output.splitlines()
    assert "APP_DB_PASSWORD=[redacted]" in app.output.splitlines()
    assert "OTHER=" not in app.output
    assert one(everything, "env.count") >= 3
    assert "OTHER=x" in everything.output
    for result in (app, everything):
        assert SECRET not in result.model_dump_json()
    assert none.status == "problem"
    assert one(none, "env.count") == 0


async def test_exec_runs_the_argv_without_a_shell(
    executor: DockerExecutor, containers: dict[str, str]
) -> None:
    target = bound(containers["web"])
    ok = await executor.check(
        DockerExec(type="docker.exec", command=["cat", "/www/health"]), target
    )
    # No shell: the `;` and `$HOME` reach cat as plain arguments.
    literal = await executor.check(
        DockerExec(type="docker.exec", command=["echo", "a; rm -rf /www", "$HOME"]), target
    )
    failing = await executor.check(DockerExec(type="docker.exec", command=["cat", "/nope"]), target)
    secret = await executor.check(DockerExec(type="docker.exec", command=["env"]), target)

    assert ok.status == "ok"
    assert one(ok, "exec.exit_code") == 0
    assert '"status": "healthy"' in one(ok, "exec.output")
    assert literal.output == "a; rm -rf /www $HOME"
    assert failing.status == "problem"
    assert one(failing, "exec.exit_code") == 1
    assert "No such file" in failing.output
    assert "exit 1" in failing.summary
    assert SECRET not in secret.model_dump_json()


async def test_exec_of_a_program_the_image_lacks_says_so_in_one_line(
    executor: DockerExecutor, containers: dict[str, str]
) -> None:
    # busybox has no psql: the seed's in-container SELECT 1 cannot run there.
    target = bound(containers["web"])
    action = DockerExec(type="docker.exec", command=["psql", "-c", "SELECT 1;"])
    result = await executor.check(action, target)
    assert result.status == "problem"
    assert result.summary == (
        f"psql is not in the image of container {containers['web']}: "
        "cannot run psql -c SELECT 1; there"
    )
    assert one(result, "exec.missing_program") == "psql"
    assert found(result, "exec.failed") == []
    ran = await executor.check(DockerExec(type="docker.exec", command=["cat", "/nope"]), target)
    assert one(ran, "exec.failed") is True
    assert found(ran, "exec.missing_program") == []


async def test_exec_times_out_with_one_line(
    executor: DockerExecutor, containers: dict[str, str]
) -> None:
    result = await executor.check(
        DockerExec(type="docker.exec", command=["sleep", "30"], timeout_s=1),
        bound(containers["web"]),
    )

    assert result.status == "error"
    assert "timed out after 1s" in result.summary
    assert "\n" not in result.summary


async def test_exec_in_a_stopped_container_is_a_clear_error(
    executor: DockerExecutor, containers: dict[str, str]
) -> None:
    result = await executor.check(
        DockerExec(type="docker.exec", command=["true"]), bound(containers["crashed"])
    )

    assert result.status == "error"
    assert result.summary == f"cannot exec in {containers['crashed']}: it is not running"
