"""A service's request counters in Prometheus text format, growing as its health dictates."""

from __future__ import annotations

from dataclasses import dataclass, field

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# Requests per second, and the share of them in each latency bucket (the rest are slower).
_RATE = 40.0
_FAST = (0.55, 0.8, 0.93, 0.97, 0.99, 0.997)
_FAILING = (0.9, 0.95, 0.97, 0.98, 0.99, 0.995)
# Pods past their capacity (this many times the load they serve comfortably) queue requests:
# most take over a second.
_CAPACITY = 2.0
_SLOW = (0.05, 0.1, 0.2, 0.35, 0.6, 0.9)
# The status a fault answers with, by kind.
_FAULT_STATUS = {"5xx": "502", "401": "401", "429": "429"}


@dataclass
class Traffic:
    """Counters since the sandbox started, advanced at every scrape by the state at that time."""

    last: float
    upstreams: list[str]
    by_status: dict[str, float] = field(default_factory=dict)
    buckets: list[float] = field(default_factory=list)
    count: float = 0.0
    total_seconds: float = 0.0
    ratelimited: float = 0.0
    auth_failures: float = 0.0
    upstream_errors: dict[str, float] = field(default_factory=dict)
    # Calls to each upstream (one per request answered) and the seconds they took.
    upstream_calls: dict[str, float] = field(default_factory=dict)
    upstream_seconds: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A day of healthy history, so rates over the first scrapes are not all zeros.
        self.by_status = {"200": 0.0, "401": 0.0, "429": 0.0, "503": 0.0}
        self.buckets = [0.0] * len(BUCKETS)
        self.upstream_errors = dict.fromkeys(self.upstreams, 0.0)
        now, self.last = self.last, self.last - 86400.0
        self.advance(now, True, [])

    def advance(
        self,
        now: float,
        healthy: bool,
        down_upstreams: list[str],
        faulty: float = 0.0,
        answers: str = "5xx",
        load: float = 1.0,
    ) -> None:
        """Count the requests since the last scrape; `faulty` of them get the fault's answer."""
        seconds = max(0.0, now - self.last)
        self.last = now
        requests = _RATE * seconds
        if healthy:
            ok = requests * (1.0 - faulty)
            self.by_status["200"] += ok * 0.97
            self.by_status["429"] += ok * 0.02
            self.by_status["401"] += ok * 0.01
            self.ratelimited += ok * 0.02
            self.auth_failures += ok * 0.01
            status = _FAULT_STATUS[answers]
            self.by_status[status] = self.by_status.get(status, 0.0) + requests * faulty
            if answers == "429":
                self.ratelimited += requests * faulty
            if answers == "401":
                self.auth_failures += requests * faulty
            shares, mean = (_SLOW, 1.4) if load > _CAPACITY else (_FAST, 0.06)
        else:
            self.by_status["503"] += requests
            self.by_status.setdefault("502", 0.0)
            shares, mean = _FAILING, 0.02
        for name in down_upstreams:
            self.upstream_errors[name] = self.upstream_errors.get(name, 0.0) + requests
        for name in self.upstreams:
            calls = 0.0 if name in down_upstreams else requests / len(self.upstreams)
            self.upstream_calls[name] = self.upstream_calls.get(name, 0.0) + calls
            self.upstream_seconds[name] = self.upstream_seconds.get(name, 0.0) + calls * 0.03
        for i, share in enumerate(shares):
            self.buckets[i] += requests * share
        self.count += requests
        self.total_seconds += requests * mean

    def exposition(self, service: str) -> str:
        """The /metrics page."""
        job = f'service="{service}"'
        lines = [
            "# HELP gateway_requests_total Requests answered, by HTTP status.",
            "# TYPE gateway_requests_total counter",
            *(f'gateway_requests_total{{{job},status="{code}"}} {int(n)}'
              for code, n in sorted(self.by_status.items())),
            "# HELP gateway_request_duration_seconds Time to answer a request.",
            "# TYPE gateway_request_duration_seconds histogram",
            *(f'gateway_request_duration_seconds_bucket{{{job},le="{le}"}} {int(n)}'
              for le, n in zip(BUCKETS, self.buckets, strict=True)),
            f'gateway_request_duration_seconds_bucket{{{job},le="+Inf"}} {int(self.count)}',
            f"gateway_request_duration_seconds_sum{{{job}}} {self.total_seconds:.3f}",
            f"gateway_request_duration_seconds_count{{{job}}} {int(self.count)}",
            "# HELP gateway_ratelimit_exceeded_total Requests refused by the rate limiter.",
            "# TYPE gateway_ratelimit_exceeded_total counter",
            f"gateway_ratelimit_exceeded_total{{{job}}} {int(self.ratelimited)}",
            "# HELP gateway_auth_failures_total Requests refused for bad credentials.",
            "# TYPE gateway_auth_failures_total counter",
            f"gateway_auth_failures_total{{{job}}} {int(self.auth_failures)}",
            "# HELP gateway_upstream_errors_total Failed calls to an upstream service.",
            "# TYPE gateway_upstream_errors_total counter",
            *(f'gateway_upstream_errors_total{{{job},upstream="{name}"}} {int(n)}'
              for name, n in sorted(self.upstream_errors.items())),
            "# HELP gateway_upstream_duration_seconds Time an upstream took to answer.",
            "# TYPE gateway_upstream_duration_seconds summary",
            *(line for name in sorted(self.upstream_calls) for line in (
                f'gateway_upstream_duration_seconds_sum{{{job},upstream="{name}"}} '
                f"{self.upstream_seconds[name]:.3f}",
                f'gateway_upstream_duration_seconds_count{{{job},upstream="{name}"}} '
                f"{int(self.upstream_calls[name])}")),
        ]  # fmt: skip
        return "\n".join(lines) + "\n"
