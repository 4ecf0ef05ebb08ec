"""The scenario tests' process fixtures, for killing and restarting the real bot."""

from __future__ import annotations

from tests.scenarios.conftest import sandbox, spawn

__all__ = ["sandbox", "spawn"]
