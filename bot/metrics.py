"""The bot's own Prometheus metrics: counters and histograms in the text exposition format 0.0.4.

One process-wide registry, as Prometheus client libraries keep, so any module can count without
being handed a registry; `GET /metrics` serves `REGISTRY.exposition()`.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from functools import wraps
from typing import ParamSpec, TypeVar

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

P = ParamSpec("P")
T = TypeVar("T")


def _number(value: float) -> str:
    """A sample value as Prometheus writes it: `+Inf`, `NaN`, `3`, `0.25`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _bound(bound: float) -> str:
    """A bucket's `le` as Prometheus client libraries write it (`1.0`, `+Inf`), so series keep
    the same identity whichever library a team is used to."""
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def escape_label_value(value: str) -> str:
    """A label value inside double quotes: backslash, quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _labels(pairs: Sequence[tuple[str, str]]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{escape_label_value(v)}"' for k, v in pairs) + "}"


class _Metric:
    kind = ""

    def __init__(self, name: str, documentation: str, labels: Sequence[str]) -> None:
        if not _METRIC_NAME.match(name):
            raise ValueError(f"invalid metric name {name!r}")
        for label in labels:
            if not _LABEL_NAME.match(label) or label.startswith("__"):
                raise ValueError(f"invalid label name {label!r} for {name}")
        if len(set(labels)) != len(labels):
            raise ValueError(f"repeated label name in {name}")
        self.name = name
        self.documentation = documentation
        self.label_names = tuple(labels)
        self._lock = threading.Lock()

    def _key(self, labels: dict[str, str]) -> tuple[str, ...]:
        if set(labels) != set(self.label_names):
            want = ", ".join(self.label_names) or "none"
            raise ValueError(f"{self.name} takes labels {want}, not {', '.join(labels) or 'none'}")
        return tuple(str(labels[name]) for name in self.label_names)

    def _header(self) -> Iterator[str]:
        yield f"# HELP {self.name} {_escape_help(self.documentation)}"
        yield f"# TYPE {self.name} {self.kind}"

    def lines(self) -> Iterator[str]:
        raise NotImplementedError


class Counter(_Metric):
    """A value that only goes up, one per combination of label values."""

    kind = "counter"

    def __init__(self, name: str, documentation: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, documentation, labels)
        self._values: dict[tuple[str, ...], float] = {}
        if not self.label_names:
            self._values[()] = 0.0

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError(f"{self.name} is a counter; it cannot go down by {amount}")
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        """The current value for these label values (0 if never counted)."""
        key = self._key(labels)
        with self._lock:
            return self._values.get(key, 0.0)

    def lines(self) -> Iterator[str]:
        yield from self._header()
        with self._lock:
            values = sorted(self._values.items())
        for key, value in values:
            pairs = list(zip(self.label_names, key, strict=True))
            yield f"{self.name}{_labels(pairs)} {_number(value)}"


class Histogram(_Metric):
    """Observations counted into cumulative buckets, with their sum and count."""

    kind = "histogram"

    def __init__(
        self, name: str, documentation: str, buckets: Sequence[float], labels: Sequence[str] = ()
    ) -> None:
        super().__init__(name, documentation, labels)
        if "le" in self.label_names:
            raise ValueError(f"{name}: 'le' is reserved for histogram buckets")
        bounds = sorted(float(b) for b in buckets if not math.isinf(b))
        if not bounds or len(set(bounds)) != len(bounds):
            raise ValueError(f"{name} needs distinct, finite bucket bounds")
        self.buckets = (*bounds, math.inf)
        # Per label values: the count in each bucket (not cumulative), the sum, the count.
        self._series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}
        if not self.label_names:
            self._series[()] = self._empty()

    def _empty(self) -> tuple[list[int], list[float]]:
        return [0] * len(self.buckets), [0.0]

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        index = next(i for i, bound in enumerate(self.buckets) if value <= bound)
        with self._lock:
            counts, total = self._series.setdefault(key, self._empty())
            counts[index] += 1
            total[0] += value

    def count(self, **labels: str) -> int:
        key = self._key(labels)
        with self._lock:
            counts, _ = self._series.get(key, self._empty())
            return sum(counts)

    def lines(self) -> Iterator[str]:
        yield from self._header()
        with self._lock:
            series = sorted((k, (list(c), t[0])) for k, (c, t) in self._series.items())
        for key, (counts, total) in series:
            pairs = list(zip(self.label_names, key, strict=True))
            cumulative = 0
            for bound, count in zip(self.buckets, counts, strict=True):
                cumulative += count
                le = _labels([*pairs, ("le", _bound(bound))])
                yield f"{self.name}_bucket{le} {cumulative}"
            yield f"{self.name}_sum{_labels(pairs)} {_number(total)}"
            yield f"{self.name}_count{_labels(pairs)} {cumulative}"


class Registry:
    """Metrics by name, exposed in the order they were made."""

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}
        self._lock = threading.Lock()

    def _add(self, metric: _Metric) -> None:
        with self._lock:
            if metric.name in self._metrics:
                raise ValueError(f"metric {metric.name} is already registered")
            self._metrics[metric.name] = metric

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        metric = Counter(name, documentation, labels)
        self._add(metric)
        return metric

    def histogram(
        self, name: str, documentation: str, buckets: Sequence[float], labels: Sequence[str] = ()
    ) -> Histogram:
        metric = Histogram(name, documentation, buckets, labels)
        self._add(metric)
        return metric

    def exposition(self) -> str:
        """Every metric in the text format 0.0.4, ending in a newline."""
        with self._lock:
            metrics = list(self._metrics.values())
        return "".join(line + "\n" for metric in metrics for line in metric.lines())


def timed(histogram: Histogram, call: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """`call`, observing into `histogram` how long each call took, failed or not, in seconds."""

    @wraps(call)
    async def measured(*args: P.args, **kwargs: P.kwargs) -> T:
        started = time.perf_counter()
        try:
            return await call(*args, **kwargs)
        finally:
            histogram.observe(time.perf_counter() - started)

    return measured


REGISTRY = Registry()

INCIDENTS_OPENED = REGISTRY.counter(
    "runbook_bot_incidents_opened_total", "Incidents opened, by playbook.", ("playbook",)
)
INCIDENTS_RESOLVED = REGISTRY.counter(
    "runbook_bot_incidents_resolved_total", "Incidents resolved, by playbook.", ("playbook",)
)
DIAGNOSTICS = REGISTRY.counter(
    "runbook_bot_diagnostics_total",
    "Diagnostics run, by result (ok, problem, error, skipped) and playbook.",
    ("result", "playbook"),
)
FIXES = REGISTRY.counter(
    "runbook_bot_fixes_total",
    "Fixes decided, by result (applied, failed, denied) and playbook.",
    ("result", "playbook"),
)
# Slack wants an ack within 3 s; the buckets resolve the range up to and past that.
ACK_LATENCY = REGISTRY.histogram(
    "runbook_bot_ack_latency_seconds",
    "Time from receiving a POST /slack/events to its response being ready.",
    (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0, 5.0, 10.0),
)
SLACK_API_ERRORS = REGISTRY.counter(
    "runbook_bot_slack_api_errors_total",
    "Slack Web API calls answered ok=false, by method and error code.",
    ("method", "error"),
)
SLACK_RATE_LIMITED = REGISTRY.counter(
    "runbook_bot_slack_rate_limited_total",
    "Slack Web API calls answered HTTP 429, by method.",
    ("method",),
)
# Timers are minutes apart; lateness past a minute means the bot was down or overloaded.
TIMER_LATENESS = REGISTRY.histogram(
    "runbook_bot_timer_lateness_seconds",
    "How long after its due time a timer fired.",
    (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0),
)
