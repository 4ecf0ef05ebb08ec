"""The bot's own Prometheus metrics, kept by `prometheus_client` and served as text format 0.0.4.

The bot's series live in a registry of our own, not `prometheus_client`'s global one, so each
test can build an independent registry; `REGISTRY` adds the process, GC and platform collectors,
and `GET /metrics` serves `REGISTRY.exposition()`.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from functools import wraps
from typing import ParamSpec, TypeVar

import prometheus_client
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample

# What `exposition()` writes, whichever format prometheus_client itself defaults to.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# How the text format 0.0.4 names the types prometheus_client models beyond its four.
_TEXT_TYPES = {"info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram"}
# Within one series: a histogram's buckets (in bound order), then its sum, then its count.
_SUFFIX_ORDER = {"_sum": 1, "_gsum": 1, "_count": 2, "_gcount": 2}

P = ParamSpec("P")
T = TypeVar("T")
M = TypeVar("M", bound="_Metric")


def _number(value: float) -> str:
    """A sample value as Prometheus writes it: `+Inf`, `NaN`, `3`, `0.25`."""
    value = float(value)  # collectors may hand over an int
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def escape_label_value(value: str) -> str:
    """A label value inside double quotes: backslash, quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    text = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in pairs)
    return "{" + text + "}" if text else ""


def _series_order(family: Metric, sample: Sample) -> tuple[tuple[str, ...], int]:
    """Series sorted by their label values, each histogram's lines in the order Prometheus reads."""
    values = tuple(v for k, v in sample.labels.items() if k != "le")
    return values, _SUFFIX_ORDER.get(sample.name.removeprefix(family.name), 0)


def _family_lines(family: Metric) -> Iterator[str]:
    name = family.name + {"counter": "_total", "info": "_info"}.get(family.type, "")
    kind = _TEXT_TYPES.get(family.type, "untyped" if family.type == "unknown" else family.type)
    yield f"# HELP {name} {_escape_help(family.documentation)}"
    yield f"# TYPE {name} {kind}"
    # Creation times are OpenMetrics' idea; the 0.0.4 text format has no place for them.
    samples = [s for s in family.samples if s.name != family.name + "_created"]
    for sample in sorted(samples, key=lambda s: _series_order(family, s)):
        yield f"{sample.name}{_labels(sample.labels.items())} {_number(sample.value)}"


class _Metric:
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

    def _key(self, labels: dict[str, str]) -> tuple[str, ...]:
        if set(labels) != set(self.label_names):
            want = ", ".join(self.label_names) or "none"
            raise ValueError(f"{self.name} takes labels {want}, not {', '.join(labels) or 'none'}")
        return tuple(str(labels[name]) for name in self.label_names)

    def _sample(
        self,
        collector: prometheus_client.Counter | prometheus_client.Histogram,
        suffix: str,
        key: tuple[str, ...],
    ) -> float:
        """One sample's current value, read through the public `collect()` (0 if never set)."""
        wanted = dict(zip(self.label_names, key, strict=True))
        for family in collector.collect():
            for sample in family.samples:
                if sample.name == family.name + suffix and sample.labels == wanted:
                    return sample.value
        return 0.0


class Counter(_Metric):
    """A value that only goes up, one per combination of label values."""

    def __init__(
        self, name: str, documentation: str, labels: Sequence[str], registry: CollectorRegistry
    ) -> None:
        super().__init__(name, documentation, labels)
        self._counter = prometheus_client.Counter(
            name, documentation, self.label_names, registry=registry
        )

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError(f"{self.name} is a counter; it cannot go down by {amount}")
        key = self._key(labels)
        (self._counter.labels(*key) if key else self._counter).inc(amount)

    def value(self, **labels: str) -> float:
        """The current value for these label values (0 if never counted)."""
        return self._sample(self._counter, "_total", self._key(labels))


class Histogram(_Metric):
    """Observations counted into cumulative buckets, with their sum and count."""

    def __init__(
        self,
        name: str,
        documentation: str,
        buckets: Sequence[float],
        labels: Sequence[str],
        registry: CollectorRegistry,
    ) -> None:
        super().__init__(name, documentation, labels)
        if "le" in self.label_names:
            raise ValueError(f"{name}: 'le' is reserved for histogram buckets")
        bounds = sorted(float(b) for b in buckets if not math.isinf(b))
        if not bounds or len(set(bounds)) != len(bounds):
            raise ValueError(f"{name} needs distinct, finite bucket bounds")
        self.buckets = (*bounds, math.inf)
        self._histogram = prometheus_client.Histogram(
            name, documentation, self.label_names, registry=registry, buckets=self.buckets
        )

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        (self._histogram.labels(*key) if key else self._histogram).observe(value)

    def count(self, **labels: str) -> int:
        return int(self._sample(self._histogram, "_count", self._key(labels)))


class Registry:
    """Our metrics (and, with `runtime`, the process's own), exposed in the order they were made."""

    def __init__(self, runtime: bool = False) -> None:
        self.collectors = CollectorRegistry(auto_describe=True)
        self._names: set[str] = set()
        self._lock = threading.Lock()
        if runtime:
            ProcessCollector(registry=self.collectors)
            GCCollector(registry=self.collectors)
            PlatformCollector(registry=self.collectors)

    def _made(self, name: str, make: Callable[[], M]) -> M:
        # Checked before prometheus_client sees the name, so a clash is told in our own words.
        with self._lock:
            if name in self._names:
                raise ValueError(f"metric {name} is already registered")
            metric = make()
            self._names.add(name)
        return metric

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        return self._made(name, lambda: Counter(name, documentation, labels, self.collectors))

    def histogram(
        self, name: str, documentation: str, buckets: Sequence[float], labels: Sequence[str] = ()
    ) -> Histogram:
        return self._made(
            name, lambda: Histogram(name, documentation, buckets, labels, self.collectors)
        )

    def exposition(self) -> str:
        """Every metric in the text format 0.0.4, ending in a newline."""
        families = self.collectors.collect()
        return "".join(line + "\n" for family in families for line in _family_lines(family))


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


REGISTRY = Registry(runtime=True)

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
# Incident response times, observed once per incident when it is resolved: minutes to hours.
_RESPONSE_BUCKETS = (60.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0)
TIME_TO_ACKNOWLEDGE = REGISTRY.histogram(
    "runbook_bot_incident_time_to_acknowledge_seconds",
    "Opening to the first responder action (see docs/operating.md), by playbook and service.",
    _RESPONSE_BUCKETS,
    ("playbook", "service"),
)
TIME_TO_MITIGATE = REGISTRY.histogram(
    "runbook_bot_incident_time_to_mitigate_seconds",
    "Opening to the first fix or verification that passed, by playbook and service.",
    _RESPONSE_BUCKETS,
    ("playbook", "service"),
)
TIME_TO_RESOLVE = REGISTRY.histogram(
    "runbook_bot_incident_time_to_resolve_seconds",
    "Opening to resolving, by playbook and service.",
    _RESPONSE_BUCKETS,
    ("playbook", "service"),
)
FIX_OUTCOMES = REGISTRY.counter(
    "runbook_bot_incident_fix_outcomes_total",
    "Fixes of resolved incidents by what became of them (applied, applied, verification failed,"
    " failed, interrupted), playbook and service.",
    ("outcome", "playbook", "service"),
)
