"""A built-in stand-in for the Kubernetes API server, for drills and tests."""

from __future__ import annotations

from bot.drills.kubernetes.sandbox import Sandbox
from bot.drills.kubernetes.scenario import list_scenarios, scenarios_for

__all__ = ["Sandbox", "list_scenarios", "scenarios_for"]
