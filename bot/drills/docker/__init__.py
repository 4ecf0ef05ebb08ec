"""A built-in stand-in for the Docker Engine API, for drills and tests on Docker services."""

from __future__ import annotations

from bot.drills.docker.sandbox import DockerSandbox
from bot.drills.docker.scenario import list_scenarios, load_scenario

__all__ = ["DockerSandbox", "list_scenarios", "load_scenario"]
