"""prometheus.query against a real Prometheus scraping recorded series: SLOs as findings."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from pydantic import ValidationError

from bot.config import PrometheusConfig, ServiceBinding
from bot.engine.binding import resolve_action
from bot.executors.prometheus import PrometheusExecutor, PrometheusQueryAction
from tests.support.prometheus import MetricsTarget, Prometheus

BINDING = ServiceBinding(deployment="ecap-api").with_defaults("ecap-api")
P95 = (
    "histogram_quantile(0.95, sum by (le) "
    '(rate(http_request_duration_seconds_bucket{service="${service.deployment}"}[10s])))'
)
ERRORS = (
    'sum(rate(http_requests_total{service="${service.deployment}",status=~"5.."}[10s])) / '
    'sum(rate(http_requests_total{service="${service.deployment}"}[10s]))'
)


class Api:
    """A recorded service: each scrape, 100 more requests (90 under 0.1 s, 8 under 0.5 s,
    2 under 2.5 s), one of them a 500."""

    def __init__(self) -> None:
        self.scrapes = 0

    def body(self) -> str:
        self.scrapes += 1
        n = self.scrapes
        buckets = {"0.1": 90 * n, "0.5": 98 * n, "2.5": 100 * n, "+Inf": 100 * n}
        lines = ["# TYPE http_request_duration_seconds histogram"]
        lines += [
            f'http_request_duration_seconds_bucket{{service="ecap-api",le="{le}"}} {count}'
            for le, count in buckets.items()
        ]
        lines += [
            f'http_request_duration_seconds_count{{service="ecap-api"}} {100 * n}',
            f'http_request_duration_seconds_sum{{service="ecap-api"}} {15.0 * n}',
            "# TYPE http_requests_total counter",
            f'http_requests_total{{service="ecap-api",status="200"}} {99 * n}',
            f'http_requests_total{{service="ecap-api",status="500"}} {n}',
        ]
        return "\n".join(lines) + "\n"


@pytest.fixture
async def executor() -> AsyncIterator[PrometheusExecutor]:
    api = Api()
    async with (
        MetricsTarget(api.body) as target,
        Prometheus(jobs={"api": [target.address]}, rules=[]) as prometheus,
        aiohttp.ClientSession() as session,
    ):
        # Three scrapes: a rate over 10 s has points to work with.
        scraped = 'count_over_time(up{job="api"}[1m]) >= bool 3'
        await prometheus.wait_for_value(session, scraped, "1")
        ex = PrometheusExecutor(PrometheusConfig(url=prometheus.url))
        yield ex
        await ex.close()


def query(**fields: object) -> PrometheusQueryAction:
    action = PrometheusQueryAction.model_validate({"type": "prometheus.query", **fields})
    return resolve_action(action, BINDING, "ecap-api")


async def test_p95_from_a_histogram_within_its_slo(executor: PrometheusExecutor) -> None:
    result = await executor.check(
        query(query=P95, finding="p95_seconds", above=1.0, unit="s"), BINDING
    )
    assert result.status == "ok", result.summary
    # 95th of 100 lies 5/8 into the 0.1-0.5 s bucket.
    assert result.summary == "p95_seconds: 0.35 s (within <= 1 s)"
    values = {f.name: f.value for f in result.findings}
    assert values == {"prometheus.p95_seconds": 0.35, "prometheus.p95_seconds.breached": False}


async def test_an_error_rate_above_its_slo_is_a_problem(executor: PrometheusExecutor) -> None:
    result = await executor.check(query(query=ERRORS, finding="error_ratio", above=0.001), BINDING)
    assert result.status == "problem"
    assert result.summary == "error_ratio: 0.01 (breaches <= 0.001)"
    assert 'service="ecap-api"' in result.output


async def test_a_range_query_reduces_to_its_max(executor: PrometheusExecutor) -> None:
    throughput = 'sum(rate(http_requests_total{service="${service.deployment}"}[10s])) * 60'
    result = await executor.check(
        query(query=throughput, finding="requests_per_minute", range="1m", step="1s", below=1),
        BINDING,
    )
    assert result.status == "ok", result.summary
    assert result.summary.startswith("requests_per_minute (max over 1m): ")
    assert float(result.summary.split(": ")[1].split()[0]) > 1000


async def test_a_bound_value_cannot_change_the_query(executor: PrometheusExecutor) -> None:
    """A display name that tries to close the matcher is only a strange label value."""
    hostile = BINDING.model_copy(update={"display_name": 'x"} or vector(1) #'})
    action = PrometheusQueryAction(
        type="prometheus.query", query='up{job="${service.display_name}"}', finding="up"
    )
    bound = resolve_action(action, hostile, "ecap-api")
    assert bound.query == 'up{job="x\\"} or vector(1) #"}'
    result = await executor.check(bound, hostile)
    assert result.status == "problem"
    assert result.summary == "up: no data (the query matched no series)"


async def test_without_prometheus_the_query_says_so_at_once() -> None:
    executor = PrometheusExecutor(None)
    result = await executor.check(query(query="up", finding="up"), BINDING)
    assert result.status == "error"
    assert result.summary == "up: no Prometheus is configured (set prometheus.url in the config)"


async def test_a_query_prometheus_refuses_is_one_line() -> None:
    executor = PrometheusExecutor(PrometheusConfig(url="http://127.0.0.1:9"))
    result = await executor.check(query(query="up", finding="up"), BINDING)
    await executor.close()
    assert result.status == "error"
    assert result.summary.startswith("prometheus: ConnectError")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("up{job=${service.deployment}}", "inside a label matcher's quotes"),
        ('up{job=~"${service.deployment}"}', "only in an = or != label matcher"),
        ('label_replace(up, "x", "${service.deployment}", "", "")', "only in an = or !="),
    ],
)
def test_bound_values_only_in_equality_matchers(text: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        PrometheusQueryAction(type="prometheus.query", query=text, finding="x")
    PrometheusQueryAction(
        type="prometheus.query", query='up{job!="${service.deployment}"}', finding="x"
    )
