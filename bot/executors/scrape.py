"""`curl /metrics | grep NAME`: Prometheus text-format samples as findings."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Literal

from prometheus_client.parser import text_string_to_metric_families
from pydantic import Field

from bot.executors.base import CheckResult, Finding, ReadAction
from bot.executors.common import one_line
from bot.executors.params import HttpUrl, url_for_display
from bot.redact import redact

# Real exporters answer with hundreds of KiB; past this the rest is dropped, not parsed.
MAX_METRICS_BODY = 4 * 1024 * 1024
_SHOWN_LINES = 50
_MAX_FINDINGS = 100
_NAME = re.compile(r"[A-Za-z_:]")


class HttpMetrics(ReadAction):
    """`curl /metrics | grep NAME`: Prometheus text-format samples whose names match."""

    type: Literal["http.metrics"]
    url: HttpUrl
    # Substrings of metric names to keep, as `| grep duration` would; at least one.
    match: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_:]{1,100}$")]] = Field(
        min_length=1, max_length=20
    )
    timeout_s: float = Field(default=5.0, gt=0, le=60)


@dataclass(frozen=True)
class Sample:
    """One line of the exposition: `name{labels} value [timestamp]`."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float
    line: str


class NotExposition(ValueError):
    """The body is not the Prometheus text format; str() says where and why."""


def parse(text: str) -> list[Sample]:
    """Every sample of a text-format exposition; comments (# HELP, # TYPE, # EOF) are skipped."""
    samples = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            samples.append(_sample(line))
        except NotExposition as exc:
            raise NotExposition(f"line {number}: {exc}") from None
    return samples


def _sample(line: str) -> Sample:
    # One line at a time, so an error names its line and the output shows lines as served.
    try:
        parsed = next(iter(text_string_to_metric_families(line + "\n"))).samples[0]
    except (ValueError, StopIteration, IndexError) as exc:
        raise NotExposition(_why(line, exc)) from None
    # The parser reads `up 1 2 3` as value 1 at time 2; the format allows one time, in ms.
    fields = line.rpartition("}")[2].split() if "{" in line else line.split()[1:]
    if len(fields) > 2:
        raise NotExposition(f"expected `{parsed.name} VALUE [TIMESTAMP]`")
    if len(fields) == 2 and not re.fullmatch(r"-?[0-9]+", fields[1]):
        raise NotExposition(f"{fields[1][:40]!r} is not a timestamp")
    return Sample(parsed.name, tuple(parsed.labels.items()), float(parsed.value), line)


def _why(line: str, exc: Exception) -> str:
    """The parser's complaint in the words of a person reading the line."""
    if not _NAME.match(line):
        return "expected a metric name"
    if "{" in line:
        labels = re.sub(r"\\.", "", line.partition("{")[2])
        if labels.count('"') % 2:
            return "unterminated label value"
        if "}" not in labels:
            return "expected `}` after the labels"
    if len(line.split()) == 1:
        return f"expected `{line} VALUE [TIMESTAMP]`"
    number = str(exc).partition("could not convert string to float: ")[2]
    return f"{number[:42]} is not a number" if number else one_line(exc) or "not a sample"


def metrics_result(action: HttpMetrics, shown: str, body: bytes) -> CheckResult:
    """The samples whose names match, as findings (sum per metric) and their lines."""
    where = url_for_display(action.url)
    text = body.decode("utf-8", errors="replace")
    truncated = len(body) >= MAX_METRICS_BODY
    if truncated:
        # The cut most likely fell inside a line; parse only whole ones.
        text = text.rpartition("\n")[0]
    if not text.strip():
        return CheckResult(status="error", summary=f"{shown}: empty body, no metrics")
    try:
        samples = parse(text)
    except NotExposition as exc:
        return CheckResult(
            status="error", summary=redact(f"{shown}: not the Prometheus text format ({exc})")
        )
    kept = [s for s in samples if any(part in s.name for part in action.match)]
    sums: dict[str, float] = {}
    for sample in kept:
        total = sums.setdefault(sample.name, 0.0)
        if math.isfinite(sample.value):
            sums[sample.name] = total + sample.value
    findings = [Finding(name="metrics.samples", value=len(kept), subject=where)]
    findings += [
        Finding(name=f"metrics.{name}", value=value, subject=where)
        for name, value in list(sums.items())[:_MAX_FINDINGS]
    ]
    lines = [s.line for s in kept[:_SHOWN_LINES]]
    if len(kept) > _SHOWN_LINES:
        lines.append(f"... and {len(kept) - _SHOWN_LINES} more sample(s)")
    if truncated:
        lines.append(f"(body cut at {MAX_METRICS_BODY // (1024 * 1024)} MiB)")
    wanted = ", ".join(action.match)
    summary = (
        f"{shown}: {len(kept)} sample(s) of {len(sums)} metric(s) matching {wanted}"
        if kept
        else f"{shown}: no metric matches {wanted} ({len(samples)} sample(s) in all)"
    )
    return CheckResult(
        status="ok", summary=redact(summary), output=redact("\n".join(lines)), findings=findings
    )
