"""The benchmarks' headline figures: one row each, written as JSON by `--json FILE`, one table.

A benchmark is a bench/*.py with a module-level `BENCHMARK = "its name"` that takes `--json FILE`
and writes its figures there with `write_figures` (bench/run_all.py finds and runs them). A figure
carries its own baseline, measured in the same run, so the ratio never compares two runs; its goal
is shown and marked, never enforced.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

GoalOn = Literal["value", "ratio"]
COLUMNS = ("benchmark", "figure", "value", "baseline (same run)", "ratio", "goal", "")
MET, MISSED, FAILED = "met", "MISSED", "FAILED"


@dataclass(frozen=True)
class Figure:
    """One measured figure; `goal_below` applies to the value or to value/baseline (`goal_on`)."""

    benchmark: str
    figure: str
    value: float
    unit: str = ""
    baseline: float | None = None
    goal_below: float | None = None
    goal_on: GoalOn = "value"
    failure: str | None = None  # why the benchmark gave no figure; the row is then marked FAILED

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0 or self.failure:
            return None
        return self.value / self.baseline

    @property
    def met(self) -> bool | None:
        """None when there is no goal; a missing ratio misses a ratio goal."""
        if self.failure:
            return False
        if self.goal_below is None:
            return None
        measured = self.ratio if self.goal_on == "ratio" else self.value
        return measured is not None and measured < self.goal_below

    @classmethod
    def failed(cls, benchmark: str, reason: str) -> Figure:
        return cls(benchmark=benchmark, figure="(no figures)", value=math.nan, failure=reason)


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")


def write_figures(path: Path | None, figures: Iterable[Figure]) -> None:
    """Writes the figures as a JSON list when a path was given; does nothing otherwise."""
    if path is not None:
        path.write_text(json.dumps([asdict(f) for f in figures], indent=1), encoding="utf-8")


def read_figures(path: Path) -> list[Figure]:
    """The figures a benchmark wrote; ValueError with a one-line reason when they are malformed."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        return [Figure(**_row(row)) for row in rows]
    except (OSError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"unreadable figures in {path.name}: {exc}") from None


def _row(row: Any) -> dict[str, Any]:
    if not isinstance(row, dict) or not isinstance(row.get("value"), int | float):
        raise TypeError(f"not a figure: {str(row)[:80]}")
    return row


def quantity(value: float | None, unit: str) -> str:
    """A value with its unit, to three significant figures or so; empty when there is none."""
    if value is None:
        return ""
    if math.isnan(value):
        return "-"
    digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
    return f"{value:,.{digits}f} {unit}".rstrip()


def goal_text(figure: Figure) -> str:
    if figure.goal_below is None:
        return ""
    if figure.goal_on == "ratio":
        return f"ratio < {quantity(figure.goal_below, '')}"
    return f"< {quantity(figure.goal_below, figure.unit)}"


def mark(figure: Figure) -> str:
    if figure.failure:
        return f"{FAILED}: {figure.failure}"
    return {True: MET, False: MISSED, None: ""}[figure.met]


def cells(figure: Figure) -> tuple[str, ...]:
    ratio = figure.ratio
    return (
        figure.benchmark,
        figure.figure,
        quantity(figure.value, figure.unit),
        quantity(figure.baseline, figure.unit),
        "" if ratio is None else f"{ratio:.2f}",
        goal_text(figure),
        mark(figure),
    )


def format_table(figures: Sequence[Figure]) -> str:
    """One plain-text table: left-aligned words, right-aligned numbers, a rule under the header."""
    rows = [COLUMNS, *(cells(f) for f in figures)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    numeric = {2, 3, 4}

    def line(row: Sequence[str]) -> str:
        parts = [
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths).rstrip()
    return "\n".join([line(COLUMNS), rule, *(line(row) for row in rows[1:])])
