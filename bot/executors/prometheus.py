"""prometheus.query: a PromQL query from the playbook, instant or over a range, as a finding.

The one Prometheus HTTP client of the bot is here; escalation's metric conditions use it too.
Values bound from the service catalog enter a query only as the content of a label matcher's
string, escaped, so a binding can never change what the query means.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field, field_validator, model_validator

from bot.config import PrometheusConfig, ServiceBinding
from bot.errors import InvalidRequest
from bot.executors.base import Backend, CheckResult, Finding, ReadAction
from bot.executors.params import PLACEHOLDER
from bot.executors.tabled import TabledExecutor
from bot.redact import redact

_TIMEOUT_S = 10.0
# PromQL string literals take Go's escapes; a bound value must not end the label matcher.
_UNSAFE = re.compile(r'["\\\n]')
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_POINTS = 11_000  # Prometheus refuses a range query of more points than this.


def promql_string(value: str) -> str:
    """`value` escaped as the content of a PromQL double-quoted string."""
    return _UNSAFE.sub(lambda m: "\\n" if m.group() == "\n" else "\\" + m.group(), value)


def _placeholders_only_in_equality_matchers(query: str) -> None:
    for literal in _STRING.finditer(query):
        if PLACEHOLDER.search(literal.group()) and not re.search(
            r"(?<![=!])!?=\s*$", query[: literal.start()]
        ):
            raise ValueError(
                "a ${...} value may stand only in an = or != label matcher "
                '(e.g. job="${service.deployment}")'
            )
    if PLACEHOLDER.search(_STRING.sub('""', query)):
        raise ValueError('a ${...} value must be inside a label matcher\'s quotes ("...")')


def _seconds(text: str) -> int:
    return int(text[:-1]) * _SECONDS[text[-1]]


class PrometheusQueryAction(ReadAction):
    """A PromQL query; its one value (or max/min/avg over a range) compared to thresholds."""

    type: Literal["prometheus.query"]
    query: str = Field(min_length=1, max_length=2000)
    # The finding's name: `prometheus.<finding>`, e.g. prometheus.p95_seconds.
    finding: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    # Unset: an instant query. Set (30s, 10m, 1h): a range query ending now, reduced by `over`.
    range: str | None = Field(default=None, pattern=r"^[1-9][0-9]{0,4}[smhd]$")
    step: str = Field(default="30s", pattern=r"^[1-9][0-9]{0,4}[smh]$")
    over: Literal["max", "min", "avg", "last"] = "max"
    # The condition that is a problem: the value above `above` or below `below`.
    above: float | None = None
    below: float | None = None
    unit: str = Field(default="", max_length=16)
    timeout_s: float = Field(default=10.0, gt=0, le=60)

    # How `${service.*}` values are written into each field (see bot/engine/binding.py).
    bound_escapes: ClassVar[dict[str, Callable[[str], str]]] = {"query": promql_string}

    @field_validator("query")
    @classmethod
    def _safe_bindings(cls, query: str) -> str:
        _placeholders_only_in_equality_matchers(query)
        return query

    @model_validator(mode="after")
    def _range_has_points(self) -> PrometheusQueryAction:
        if self.range and _seconds(self.range) / _seconds(self.step) > _MAX_POINTS:
            raise ValueError(f"range {self.range} at step {self.step} is too many points")
        return self


class PrometheusQuery:
    """Instant and range queries against one Prometheus's HTTP API."""

    def __init__(self, config: PrometheusConfig, http: httpx.AsyncClient) -> None:
        self.url = f"{config.url}/api/v1"
        token = config.bearer_token
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = http

    async def _data(
        self, path: str, params: dict[str, str], timeout_s: float | None
    ) -> dict[str, Any]:
        timeout = httpx.Timeout(timeout_s) if timeout_s else httpx.USE_CLIENT_DEFAULT
        try:
            response = await self.http.get(
                f"{self.url}/{path}", params=params, headers=self.headers, timeout=timeout
            )
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise InvalidRequest(f"prometheus: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200 or body.get("status") != "success":
            raise InvalidRequest(f"prometheus: {body.get('error') or response.status_code}")
        data = body.get("data")
        return data if isinstance(data, dict) else {}

    async def series(
        self, query: str, timeout_s: float | None = None
    ) -> list[tuple[dict[str, str], float]]:
        """An instant query's answer: each series' labels and value."""
        data = await self._data("query", {"query": query}, timeout_s)
        result = data.get("result")
        if data.get("resultType") == "scalar" and isinstance(result, list):
            return [({}, float(result[1]))]
        return [
            (dict(item.get("metric") or {}), float(item["value"][1]))
            for item in result or []
            if isinstance(item, dict) and isinstance(item.get("value"), list)
        ]

    async def ranges(
        self, query: str, seconds: int, step: int, timeout_s: float | None = None
    ) -> list[tuple[dict[str, str], list[float]]]:
        """A range query ending now: each series' labels and values, oldest first."""
        end = time.time()
        params = {"query": query, "start": f"{end - seconds:.3f}", "end": f"{end:.3f}"}
        data = await self._data("query_range", params | {"step": str(step)}, timeout_s)
        return [
            (dict(item.get("metric") or {}), [float(v[1]) for v in item.get("values") or []])
            for item in data.get("result") or []
            if isinstance(item, dict)
        ]

    async def samples(self, query: str) -> list[str]:
        """Each sample of the answer as `{labels} value`; empty when the condition does not hold."""
        return [f"{_labels(labels)} {_number(value)}" for labels, value in await self.series(query)]


def _labels(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else str(value)


_REDUCE: dict[str, Callable[[list[float]], float]] = {
    "max": max,
    "min": min,
    "avg": lambda values: sum(values) / len(values),
    "last": lambda values: values[-1],
}


async def run_query(
    prometheus: PrometheusQuery | None, action: PrometheusQueryAction, target: ServiceBinding
) -> CheckResult:
    """The query's value per series, a finding for the worst, and whether it breaches."""
    what = f"{action.finding}" + (f" ({action.over} over {action.range})" if action.range else "")
    if prometheus is None:
        return CheckResult(
            status="error",
            summary=f"{what}: no Prometheus is configured (set prometheus.url in the config)",
        )
    if action.range:
        answer = await prometheus.ranges(
            action.query, _seconds(action.range), _seconds(action.step), action.timeout_s
        )
        finite = [(labels, [v for v in vs if math.isfinite(v)]) for labels, vs in answer]
        series = [(labels, float(_REDUCE[action.over](vs))) for labels, vs in finite if vs]
    else:
        series = [
            (lb, v)
            for lb, v in await prometheus.series(action.query, action.timeout_s)
            if math.isfinite(v)
        ]
    if not series:
        return CheckResult(
            status="problem",
            summary=f"{what}: no data (the query matched no series)",
            output=action.query,
            findings=[Finding(name=f"prometheus.{action.finding}.missing", value=True)],
        )
    worst = _worst(action, [v for _, v in series])
    unit = f" {action.unit}" if action.unit else ""
    breached = (action.above is not None and worst > action.above) or (
        action.below is not None and worst < action.below
    )
    limit = " ".join(
        f"{sign} {bound:g}{unit}"
        for sign, bound in (("<=", action.above), (">=", action.below))
        if bound is not None
    )
    verdict = f" (breaches {limit})" if breached else (f" (within {limit})" if limit else "")
    lines = [f"{_labels(labels)} {_number(value)}{unit}" for labels, value in series[:50]]
    return CheckResult(
        status="problem" if breached else "ok",
        summary=redact(f"{what}: {_number(worst)}{unit}{verdict}"),
        output=redact("\n".join([action.query, *lines])),
        findings=[
            Finding(name=f"prometheus.{action.finding}", value=round(worst, 6)),
            Finding(name=f"prometheus.{action.finding}.breached", value=breached),
        ],
    )


def _worst(action: PrometheusQueryAction, values: list[float]) -> float:
    """The value that matters against the thresholds: the highest, or the lowest for a floor."""
    if action.below is not None and action.above is None:
        return min(values)
    return max(values)


class PrometheusExecutor(TabledExecutor[PrometheusQuery | None]):
    """Asks the configured Prometheus; without one, each query says so at once."""

    def __init__(self, config: PrometheusConfig | None) -> None:
        self._http = httpx.AsyncClient(timeout=_TIMEOUT_S) if config else None
        client = PrometheusQuery(config, self._http) if config and self._http else None
        super().__init__(
            "prometheus", client, {"prometheus.query": run_query}, failure=InvalidRequest
        )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()


READS = (PrometheusQueryAction,)
BACKEND = Backend("prometheus", READS, (), lambda clients: PrometheusExecutor(clients.prometheus))
