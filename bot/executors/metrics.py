"""`curl /metrics | grep NAME`: Prometheus text-format samples as findings."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from bot.executors.base import CheckResult, Finding, ReadAction
from bot.executors.params import HttpUrl, url_for_display
from bot.redact import redact

# Real exporters answer with hundreds of KiB; past this the rest is dropped, not parsed.
MAX_METRICS_BODY = 4 * 1024 * 1024
_SHOWN_LINES = 50
_MAX_FINDINGS = 100
_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


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
    name_match = _NAME.match(line)
    if name_match is None:
        raise NotExposition("expected a metric name")
    name, rest = name_match.group(), line[name_match.end() :]
    labels: tuple[tuple[str, str], ...] = ()
    if rest.lstrip().startswith("{"):
        labels, rest = _labels(rest.lstrip()[1:])
    elif not rest[:1].isspace():
        raise NotExposition(f"unexpected {rest[:1]!r} after {name}")
    fields = rest.split()
    if len(fields) not in (1, 2):
        raise NotExposition(f"expected `{name} VALUE [TIMESTAMP]`")
    try:
        value = float(fields[0])
    except ValueError:
        raise NotExposition(f"{fields[0][:40]!r} is not a number") from None
    if len(fields) == 2 and not re.fullmatch(r"-?[0-9]+", fields[1]):
        raise NotExposition(f"{fields[1][:40]!r} is not a timestamp")
    return Sample(name, labels, value, line)


def _labels(text: str) -> tuple[tuple[tuple[str, str], ...], str]:
    """`a="x",b="y\\"z"}` after the opening brace -> the labels and the text after `}`."""
    labels: list[tuple[str, str]] = []
    at = 0
    while True:
        at = _skip_blanks(text, at)
        if text[at : at + 1] == "}":
            return tuple(labels), text[at + 1 :]
        name_match = _LABEL_NAME.match(text, at)
        if name_match is None:
            raise NotExposition("expected a label name or `}`")
        at = _skip_blanks(text, name_match.end())
        if text[at : at + 1] != "=":
            raise NotExposition(f"expected `=` after label {name_match.group()}")
        at = _skip_blanks(text, at + 1)
        if text[at : at + 1] != '"':
            raise NotExposition(f"expected a quoted value for label {name_match.group()}")
        value, at = _quoted(text, at + 1)
        labels.append((name_match.group(), value))
        at = _skip_blanks(text, at)
        if text[at : at + 1] == ",":
            at += 1
        elif text[at : at + 1] != "}":
            raise NotExposition("expected `,` or `}` between labels")


def _skip_blanks(text: str, at: int) -> int:
    while text[at : at + 1] in (" ", "\t"):
        at += 1
    return at


def _quoted(text: str, at: int) -> tuple[str, int]:
    """A label value from just after its opening quote; returns it and the index past the close."""
    value: list[str] = []
    while at < len(text):
        char = text[at]
        if char == '"':
            return "".join(value), at + 1
        if char == "\\":
            escaped = text[at + 1 : at + 2]
            value.append(_ESCAPES.get(escaped, "\\" + escaped))
            at += 2
            continue
        value.append(char)
        at += 1
    raise NotExposition("unterminated label value")


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
