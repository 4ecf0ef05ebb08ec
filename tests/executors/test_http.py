"""HttpExecutor against a real local HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import ValidationError

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, WriteAction
from bot.executors.http import HttpExecutor, HttpGet
from bot.executors.scrape import HttpMetrics
from tests.support.redis_server import free_port

TARGET = ServiceBinding()
_release = threading.Event()

EXPOSITION = rb"""# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000
http_requests_total{method="get",code="500",path="/say \"hi\"\n",} 5
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423.5
http_request_duration_seconds_count 144320
# a free-form comment
process_open_fds 12
go_gc_duration_seconds{quantile="0.5"} NaN
go_gc_duration_seconds{quantile="1"} 0.25
node_temperature_celsius +Inf
"""
PROMETHEUS = {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
JSON = {"Content-Type": "application/json"}

ROUTES: dict[str, tuple[int, dict[str, str], bytes]] = {
    "/metrics": (200, PROMETHEUS, EXPOSITION),
    "/metrics/many": (
        200,
        PROMETHEUS,
        "".join(f'queue_depth{{queue="q{i}"}} {i}\n' for i in range(200)).encode(),
    ),
    "/metrics/html": (200, {"Content-Type": "text/html"}, b"<html><body>login</body></html>"),
    "/metrics/broken": (200, PROMETHEUS, b'ok_total 1\nbad_total{path="/x} 2\n'),
    "/metrics/empty": (200, PROMETHEUS, b""),
    "/metrics/down": (503, PROMETHEUS, b"process_up 0\n"),
    "/healthy": (
        200,
        JSON,
        json.dumps(
            {"status": "healthy", "dependencies": {"postgres": "up", "redis": "up"}}
        ).encode(),
    ),
    "/degraded": (
        200,
        JSON,
        json.dumps(
            {"status": "degraded", "dependencies": {"postgres": "down", "redis": "up"}}
        ).encode(),
    ),
    "/status-error": (200, JSON, json.dumps({"status": "error"}).encode()),
    "/health": (
        200,
        {"Content-Type": "application/json"},
        json.dumps({"status": "UP", "dependencies": {"redis": "up"}}).encode(),
    ),
    "/down": (
        503,
        {"Content-Type": "application/json"},
        json.dumps(
            {
                "status": "degraded",
                "dependencies": {"postgres": "down", "redis": {"status": "up", "ms": 2}},
            }
        ).encode(),
    ),
    "/checks": (
        200,
        {"Content-Type": "application/json"},
        json.dumps({"checks": [{"name": "kafka", "status": "DOWN"}, {"name": "db"}]}).encode(),
    ),
    "/teapot": (418, {}, b"short and stout"),
    "/big": (200, {"Content-Type": "text/plain"}, b"x" * 10_000),
    "/leaky": (200, {"Content-Type": "text/plain"}, b"db_password=hunter2 connected"),
    "/moved": (302, {"Location": "http://admin:topsecret@login.example/sso"}, b""),
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/slow":
            # Held until the test ends, far past any check's timeout.
            _release.wait(30)
            self._send(200, {}, b"late")
            return
        status, headers, body = ROUTES.get(self.path, (404, {}, b"not found"))
        self._send(status, headers, body)

    def do_HEAD(self) -> None:
        status, headers, _ = ROUTES.get(self.path, (404, {}, b""))
        self._send(status, headers, b"")

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _release.clear()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        _release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
async def executor() -> AsyncIterator[HttpExecutor]:
    http = HttpExecutor()
    try:
        yield http
    finally:
        await http.close()


def findings(result: CheckResult) -> dict[str, object]:
    return {f.name: f.value for f in result.findings}


async def get(executor: HttpExecutor, url: str, **params: object) -> CheckResult:
    action = HttpGet.model_validate({"type": "http.get", "url": url, **params})
    return await executor.check(action, TARGET)


async def test_healthy_endpoint_is_ok(executor: HttpExecutor, base_url: str) -> None:
    result = await get(executor, f"{base_url}/health")

    assert result.status == "ok"
    facts = findings(result)
    assert facts["http.status"] == 200
    assert facts["http.reachable"] is True
    assert isinstance(facts["http.latency_ms"], int)
    assert facts["http.body_status"] == "up"
    assert facts["http.dependency.redis"] == "up"
    assert result.summary.startswith(f"GET {base_url}/health: 200 OK")
    assert "\n" not in result.summary
    assert result.output.startswith("HTTP/1.1 200 OK\nlatency: ")
    assert '"dependencies"' in result.output


async def test_503_with_down_dependency_is_a_problem(executor: HttpExecutor, base_url: str) -> None:
    result = await get(executor, f"{base_url}/down")

    assert result.status == "problem"
    facts = findings(result)
    assert facts["http.status"] == 503
    assert facts["http.reachable"] is True
    assert facts["http.body_status"] == "degraded"
    assert facts["http.dependency.postgres"] == "down"
    assert facts["http.dependency.redis"] == "up"
    assert "503 Service Unavailable (postgres down)" in result.summary


async def test_checks_listed_as_objects(executor: HttpExecutor, base_url: str) -> None:
    result = await get(executor, f"{base_url}/checks")

    facts = findings(result)
    assert facts["http.dependency.kafka"] == "down"
    assert "http.dependency.db" not in facts
    assert "http.body_status" not in facts


async def test_expected_status_list(executor: HttpExecutor, base_url: str) -> None:
    assert (await get(executor, f"{base_url}/teapot", expect_status=[418])).status == "ok"
    assert (await get(executor, f"{base_url}/health", expect_status=[204])).status == "problem"


async def test_head_request_has_no_body(executor: HttpExecutor, base_url: str) -> None:
    result = await get(executor, f"{base_url}/health", method="HEAD")

    assert result.status == "ok"
    assert result.summary.startswith("HEAD ")
    assert "http.body_status" not in findings(result)
    assert result.output.count("\n") == 1


async def test_body_is_truncated_to_2_kb(executor: HttpExecutor, base_url: str) -> None:
    result = await get(executor, f"{base_url}/big")

    assert result.output.count("x") == 2048
    assert result.output.endswith("... (truncated)")


async def test_redirect_is_reported_not_followed(executor: HttpExecutor, base_url: str) -> None:
    result = await get(executor, f"{base_url}/moved")

    assert result.status == "problem"
    assert findings(result)["http.status"] == 302
    assert "-> http://login.example/sso" in result.summary
    assert "topsecret" not in result.summary + result.output


async def test_secrets_in_body_and_url_are_never_shown(
    executor: HttpExecutor, base_url: str
) -> None:
    url = base_url.replace("http://", "http://ops:s3cr3t-pw@") + "/leaky"
    result = await get(executor, url)

    assert result.status == "ok"
    shown = result.summary + result.output + str(result.findings)
    assert "s3cr3t-pw" not in shown
    assert "ops:" not in shown
    assert "hunter2" not in shown
    assert "db_password=[redacted]" in result.output


async def test_connection_refused_is_the_answer(executor: HttpExecutor) -> None:
    url = f"http://127.0.0.1:{free_port()}/health"
    result = await get(executor, url)

    assert result.status == "problem"
    assert result.summary == f"GET {url}: connection refused"
    assert findings(result) == {"http.reachable": False}


async def test_timeout_is_the_answer(executor: HttpExecutor, base_url: str) -> None:
    result = await get(executor, f"{base_url}/slow", timeout_s=0.2)

    assert result.status == "problem"
    assert result.summary == f"GET {base_url}/slow: timed out after 0.2s"
    assert findings(result)["http.reachable"] is False


async def test_unresolvable_host(executor: HttpExecutor) -> None:
    result = await get(executor, "http://nonexistent.invalid/health", timeout_s=10)

    assert result.status == "problem"
    assert "\n" not in result.summary
    assert findings(result)["http.reachable"] is False


async def test_wrong_action_and_writes_are_refused(executor: HttpExecutor) -> None:
    write = WriteAction(type="http.post")
    assert (await executor.apply(write, TARGET)).status == "error"
    assert (await executor.preview(write, TARGET)).error == "http.post is a check, not a fix"


@pytest.mark.parametrize(
    "params",
    [
        {"url": "file:///etc/passwd"},
        {"url": "ftp://example.com/x"},
        {"url": "http://exa mple.com/"},
        {"url": "http://"},
        {"url": "http://ok.example/", "method": "POST"},
        {"url": "http://ok.example/", "timeout_s": 0},
        {"url": "http://ok.example/", "timeout_s": 61},
        {"url": "http://ok.example/", "expect_status": [99]},
        {"url": "http://ok.example/", "extra": 1},
    ],
)
def test_bad_params_are_rejected(params: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        HttpGet.model_validate({"type": "http.get", **params})


async def test_healthy_body_passes_when_everything_is_up(
    executor: HttpExecutor, base_url: str
) -> None:
    for path in ("/healthy", "/health"):
        result = await get(executor, f"{base_url}{path}", healthy_body=True)
        assert result.status == "ok", result.summary
        assert "(" not in result.summary


async def test_healthy_body_names_what_is_unhealthy(executor: HttpExecutor, base_url: str) -> None:
    strict = await get(executor, f"{base_url}/degraded", healthy_body=True)
    lenient = await get(executor, f"{base_url}/degraded")

    assert strict.status == "problem"
    assert f"GET {base_url}/degraded: 200 OK (status degraded, postgres down) in " in (
        strict.summary
    )
    assert findings(strict)["http.dependency.postgres"] == "down"
    assert lenient.status == "ok"
    assert "status degraded" not in lenient.summary


async def test_healthy_body_status_alone(executor: HttpExecutor, base_url: str) -> None:
    result = await get(executor, f"{base_url}/status-error", healthy_body=True)

    assert result.status == "problem"
    assert "200 OK (status error) in " in result.summary


async def test_healthy_body_without_json_judges_the_status_code(
    executor: HttpExecutor, base_url: str
) -> None:
    assert (await get(executor, f"{base_url}/big", healthy_body=True)).status == "ok"
    assert (await get(executor, f"{base_url}/down", healthy_body=True)).status == "problem"


async def metrics(executor: HttpExecutor, url: str, *match: str) -> CheckResult:
    action = HttpMetrics.model_validate({"type": "http.metrics", "url": url, "match": list(match)})
    return await executor.check(action, TARGET)


async def test_metrics_sums_matching_samples(executor: HttpExecutor, base_url: str) -> None:
    result = await metrics(executor, f"{base_url}/metrics", "http_request")

    assert result.status == "ok"
    assert findings(result) == {
        "metrics.samples": 8,
        "metrics.http_requests_total": 1035.0,
        "metrics.http_request_duration_seconds_bucket": 24054.0 + 33444.0 + 144320.0,
        "metrics.http_request_duration_seconds_sum": 53423.5,
        "metrics.http_request_duration_seconds_count": 144320.0,
    }
    lines = result.output.splitlines()
    assert 'http_requests_total{method="post",code="200"} 1027 1395066363000' in lines
    assert "http_request_duration_seconds_count 144320" in lines
    assert not any(line.startswith(("#", "process_open_fds")) for line in lines)
    assert result.summary == (
        f"GET {base_url}/metrics: 8 sample(s) of 4 metric(s) matching http_request"
    )


async def test_metrics_skip_nan_and_inf(executor: HttpExecutor, base_url: str) -> None:
    result = await metrics(executor, f"{base_url}/metrics", "go_gc", "temperature")

    assert findings(result) == {
        "metrics.samples": 3,
        "metrics.go_gc_duration_seconds": 0.25,
        "metrics.node_temperature_celsius": 0.0,
    }


async def test_metrics_nothing_matches(executor: HttpExecutor, base_url: str) -> None:
    result = await metrics(executor, f"{base_url}/metrics", "kafka_lag")

    assert result.status == "ok"
    assert findings(result) == {"metrics.samples": 0}
    assert result.summary.endswith(": no metric matches kafka_lag (12 sample(s) in all)")


async def test_metrics_output_is_capped(executor: HttpExecutor, base_url: str) -> None:
    result = await metrics(executor, f"{base_url}/metrics/many", "queue_depth")

    lines = result.output.splitlines()
    assert len(lines) == 51
    assert lines[-1] == "... and 150 more sample(s)"
    assert findings(result)["metrics.samples"] == 200
    assert findings(result)["metrics.queue_depth"] == float(sum(range(200)))


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/metrics/html", "not the Prometheus text format (line 1: expected a metric name)"),
        ("/metrics/broken", "not the Prometheus text format (line 2: unterminated label value)"),
        ("/metrics/empty", "empty body, no metrics"),
        ("/metrics/down", "503 Service Unavailable"),
        ("/healthy", "not the Prometheus text format (line 1: expected a metric name)"),
    ],
)
async def test_metrics_from_something_else_is_one_line_error(
    executor: HttpExecutor, base_url: str, path: str, reason: str
) -> None:
    result = await metrics(executor, f"{base_url}{path}", "up")

    assert result.status == "error"
    assert result.summary == f"GET {base_url}{path}: {reason}"


async def test_metrics_unreachable_is_an_error(executor: HttpExecutor) -> None:
    url = f"http://127.0.0.1:{free_port()}/metrics"
    result = await metrics(executor, url, "up")

    assert result.status == "error"
    assert result.summary == f"GET {url}: connection refused"


def test_placeholder_url_is_accepted_at_load_time() -> None:
    action = HttpGet.model_validate({"type": "http.get", "url": "${service.health_url}"})
    assert action.url == "${service.health_url}"


async def test_a_dependency_check_blames_only_its_own_dependency(
    executor: HttpExecutor, base_url: str
) -> None:
    # `curl /health | grep redis` during a Postgres outage: the API answers 503, redis is up.
    redis = await get(executor, f"{base_url}/down", dependency="redis")
    assert redis.status == "ok"
    assert redis.summary == f"GET {base_url}/down: redis up"
    postgres = await get(executor, f"{base_url}/down", dependency="postgres")
    assert postgres.status == "problem"
    assert postgres.summary == f"GET {base_url}/down: postgres down"
    # The findings stay those of the whole health check, for the root causes to read.
    assert findings(redis)["http.dependency.postgres"] == "down"
    assert findings(redis)["http.status"] == 503


async def test_a_dependency_the_body_does_not_list_cannot_be_judged(
    executor: HttpExecutor, base_url: str
) -> None:
    unlisted = await get(executor, f"{base_url}/health", dependency="postgres")
    assert unlisted.status == "error"
    assert unlisted.summary == f"GET {base_url}/health: the health body does not list postgres"
    port = free_port()
    refused = await get(executor, f"http://127.0.0.1:{port}/health", dependency="redis")
    assert refused.status == "error"
    assert refused.summary.endswith("connection refused: cannot tell the state of redis")
    assert findings(refused)["http.reachable"] is False
