"""Fixtures: a running sandbox Docker engine and the real docker SDK pointed at it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import docker
import pytest

from bot.drills.docker import DockerSandbox

# Containers answer on their ports this long after they start; small keeps the tests quick.
READY_DELAY = 0.05


class Clock:
    """Sandbox time that tests move forward, so no test waits for a container to outgrow memory."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Engine:
    """One sandbox and the real SDK client talking to it over HTTP."""

    def __init__(self, scenario: str, clock: Clock) -> None:
        self.clock = clock
        self.sandbox = DockerSandbox.start(scenario, ready_delay=READY_DELAY, clock=clock)
        self.client = docker.DockerClient(base_url=self.sandbox.docker_host, timeout=10)

    @property
    def api(self) -> docker.APIClient:
        return self.client.api

    def url(self, path: str) -> str:
        return f"{self.sandbox.url}{path}"

    def close(self) -> None:
        self.client.close()
        self.sandbox.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engines(clock: Clock) -> Iterator[Callable[[str], Engine]]:
    started: list[Engine] = []

    def _start(scenario: str) -> Engine:
        started.append(Engine(scenario, clock))
        return started[-1]

    yield _start
    for engine in started:
        engine.close()


@pytest.fixture
def engine(engines: Callable[[str], Engine]) -> Engine:
    """The default scenario: api-server crashed, postgres and redis running."""
    return engines("container-crashed")


def wait_until(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Poll a condition the sandbox's watcher thread makes true; bounds a hang, times nothing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()
