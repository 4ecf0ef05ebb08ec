"""The Docker backend's pure parts: quantities, swap limits, time stamps, state lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.executors.docker.client import DockerError
from bot.executors.docker.containers import State, parse_time
from bot.executors.docker.fixes import memory_bytes, swap_for

MI = 1024 * 1024


@pytest.mark.parametrize(
    ("quantity", "size"),
    [("512Mi", 512 * MI), ("4Gi", 4096 * MI), ("1G", 10**9), ("0.5Gi", 512 * MI)],
)
def test_memory_quantities_become_bytes(quantity: str, size: int) -> None:
    assert memory_bytes(quantity) == size


@pytest.mark.parametrize("quantity", ["64", "1Ki", "500m", "1Mi"])
def test_memory_too_small_to_run_is_refused(quantity: str) -> None:
    with pytest.raises(DockerError, match="not a usable limit"):
        memory_bytes(quantity)


@pytest.mark.parametrize(
    ("memory", "swap", "expected"),
    [
        (32 * MI, 64 * MI, 160 * MI),  # the default: as much swap again, kept
        (32 * MI, 32 * MI, 128 * MI),  # no swap stays no swap
        (32 * MI, -1, -1),  # unlimited swap stays unlimited
        (0, 0, 128 * MI),  # no limit before: no swap
    ],
)
def test_swap_moves_with_memory(memory: int, swap: int, expected: int) -> None:
    attrs = {"HostConfig": {"Memory": memory, "MemorySwap": swap}}
    assert swap_for(attrs, 128 * MI) == expected


def test_docker_time_stamps_with_nanoseconds_parse() -> None:
    assert parse_time("2026-12-01T20:06:17.949766327Z") == datetime(
        2026, 12, 1, 20, 6, 17, 949766, tzinfo=UTC
    )
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time("garbage") is None


def _stamp(ago: timedelta) -> str:
    return (datetime.now(UTC) - ago).strftime("%Y-%m-%dT%H:%M:%S.123456789Z")


def _attrs(**state: Any) -> dict[str, Any]:
    restarts = state.pop("restarts", 0)
    return {"Name": "/api-server", "RestartCount": restarts, "State": state}


def test_an_oom_killed_container_reads_as_one_line() -> None:
    state = State.of(
        _attrs(
            Status="exited",
            ExitCode=137,
            OOMKilled=True,
            FinishedAt=_stamp(timedelta(minutes=2, seconds=5)),
            restarts=3,
        )
    )

    assert state.line() == "api-server: exited (code 137, OOM killed) 2 min ago, restarted 3 times"
    assert not state.healthy


def test_restarting_and_paused_containers_are_not_running() -> None:
    for status in ("restarting", "paused"):
        state = State.of(_attrs(Status=status, Running=True))
        assert not state.running and not state.healthy, status


def test_health_decides_a_running_container() -> None:
    up = _stamp(timedelta(hours=3, minutes=1))
    healthy = State.of(_attrs(Status="running", Running=True, StartedAt=up))
    unhealthy = State.of(
        _attrs(Status="running", Running=True, StartedAt=up, Health={"Status": "unhealthy"})
    )

    assert healthy.healthy and healthy.line() == "api-server: running, up 3 h"
    assert not unhealthy.healthy
    assert unhealthy.line() == "api-server: running (unhealthy), up 3 h"


def test_a_stopped_container_says_how_long_its_last_run_lasted() -> None:
    """A port conflict starts and exits at once; a crashed service may have run for hours."""
    started, finished = _stamp(timedelta(hours=3, minutes=3)), _stamp(timedelta(minutes=3))
    crashed = State.of(_attrs(Status="exited", StartedAt=started, FinishedAt=finished))
    bind_failed = State.of(
        _attrs(Status="exited", StartedAt=finished, FinishedAt=_stamp(timedelta(minutes=2)))
    )
    # A running container's FinishedAt is its previous run's; one never started has none.
    running = State.of(_attrs(Status="running", StartedAt=finished, FinishedAt=started))
    created = State.of(_attrs(Status="created", StartedAt="0001-01-01T00:00:00Z"))

    assert crashed.ran_seconds == 3 * 3600
    assert bind_failed.ran_seconds == 60
    assert running.ran_seconds is None
    assert created.ran_seconds is None
