"""Reading findings out of a check's result."""

from __future__ import annotations

from typing import Any

from bot.executors.base import CheckResult


def values(result: CheckResult, name: str) -> list[Any]:
    """Every value of the finding `name`, in the order the check reported them."""
    return [f.value for f in result.findings if f.name == name]
