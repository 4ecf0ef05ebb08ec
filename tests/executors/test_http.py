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
from tests.support.redis_server import free_port

TARGET = ServiceBinding()
_release = threading.Event()

ROUTES: dict[str, tuple[int, dict[str, str], bytes]] = {
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


def test_placeholder_url_is_accepted_at_load_time() -> None:
    action = HttpGet.model_validate({"type": "http.get", "url": "${service.health_url}"})
    assert action.url == "${service.health_url}"
