"""A built-in stand-in for the Kubernetes API server, for drills and tests."""

from __future__ import annotations

from bot.sandbox.sandbox import Sandbox
from bot.sandbox.scenario import list_scenarios, scenarios_for

__all__ = ["Sandbox", "list_scenarios", "scenarios_for"]
