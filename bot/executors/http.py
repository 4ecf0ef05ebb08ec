"""HTTP checks: `curl -I http://api/health` and `curl /metrics` as API calls with findings."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time
from typing import Annotated, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import Field

from bot.config import ServiceBinding
from bot.executors.base import Backend, CheckResult, Finding, ReadAction
from bot.executors.common import causes, elapsed_ms, one_line, unreachable
from bot.executors.params import HttpUrl, url_for_display
from bot.executors.scrape import MAX_METRICS_BODY, HttpMetrics, metrics_result
from bot.executors.tabled import TabledExecutor
from bot.redact import redact, register_secret

# Enough for any health document; a larger body is only shown truncated, never parsed.
_MAX_BODY = 64 * 1024
_SHOWN_BODY = 2 * 1024
_HEALTHY = frozenset({"up", "ok", "healthy", "pass", "passing", "green"})
_DEPENDENCY_KEYS = ("dependencies", "checks", "components")

StatusCode = Annotated[int, Field(ge=100, le=599)]


class HttpGet(ReadAction):
    """Request a URL and report its status, latency and the dependencies its health body lists."""

    type: Literal["http.get"]
    url: HttpUrl
    method: Literal["GET", "HEAD"] = "GET"
    # None: any 2xx is healthy.
    expect_status: list[StatusCode] | None = Field(default=None, min_length=1)
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    # Also require a JSON health body, if any, to say healthy: its `status` and every dependency
    # it lists (`{"status": "healthy", "dependencies": {"postgres": "up"}}`).
    healthy_body: bool = False
    # Judge only this dependency's entry in the health body (`curl /health | grep redis`): one
    # dependency's outage must not make the check of another look broken.
    dependency: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


READS = (HttpGet, HttpMetrics)
WRITES = ()


class HttpExecutor(TabledExecutor[httpx.AsyncClient]):
    """Runs HTTP checks over one shared client; redirects are reported, not followed."""

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        # A redirect is itself the answer (e.g. a health URL bounced to a login page).
        self._http = client or httpx.AsyncClient(follow_redirects=False, verify=True)
        super().__init__("HTTP", self._http, {"http.get": _get, "http.metrics": _metrics})

    async def close(self) -> None:
        await self._http.aclose()


async def _get(client: httpx.AsyncClient, action: HttpGet, target: ServiceBinding) -> CheckResult:
    shown = f"{action.method} {url_for_display(action.url)}"
    fetched = await _fetch(client, action.method, action.url, action.timeout_s, _MAX_BODY)
    if isinstance(fetched, CheckResult):
        if action.dependency:
            # No health body, so nothing is known about the dependency itself.
            summary = f"{fetched.summary}: cannot tell the state of {action.dependency}"
            return fetched.model_copy(update={"status": "error", "summary": summary})
        return fetched
    response, body, latency_ms = fetched
    result = _result(action, shown, response, body, latency_ms)
    return _one_dependency(result, shown, action.dependency) if action.dependency else result


def _one_dependency(result: CheckResult, shown: str, name: str) -> CheckResult:
    """The health check judged on one dependency's entry alone, as `| grep NAME` reads it."""
    state = next((f.value for f in result.findings if f.name == f"http.dependency.{name}"), None)
    if state is None:
        summary = f"{shown}: the health body does not list {name}"
        return result.model_copy(update={"status": "error", "summary": redact(summary)})
    status = "ok" if state in _HEALTHY else "problem"
    summary = redact(f"{shown}: {name} {state}")
    return result.model_copy(update={"status": status, "summary": summary})


async def _metrics(
    client: httpx.AsyncClient, action: HttpMetrics, target: ServiceBinding
) -> CheckResult:
    shown = f"GET {url_for_display(action.url)}"
    fetched = await _fetch(client, "GET", action.url, action.timeout_s, MAX_METRICS_BODY)
    if isinstance(fetched, CheckResult):
        # No metrics to read: the check could not run (the health check answers "is it up").
        return fetched.model_copy(update={"status": "error"})
    response, body, _ = fetched
    if not 200 <= response.status_code < 300:
        reason = f"{response.status_code} {response.reason_phrase}".rstrip()
        return CheckResult(status="error", summary=redact(f"{shown}: {reason}"))
    return metrics_result(action, shown, body)


async def _fetch(
    client: httpx.AsyncClient, method: str, url: str, timeout_s: float, limit: int
) -> tuple[httpx.Response, bytes, int] | CheckResult:
    """The response, its body (at most `limit` bytes) and latency; or why there is none."""
    register_secret(urlsplit(url).password)
    where = url_for_display(url)
    shown = f"{method} {where}"
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            request = client.build_request(method, url, timeout=timeout_s)
            response = await client.send(request, stream=True)
            latency_ms = elapsed_ms(started)
            try:
                body = await _read_capped(response, limit)
            finally:
                await response.aclose()
    except (TimeoutError, httpx.TimeoutException):
        return _unreachable(shown, where, f"timed out after {timeout_s:g}s")
    except httpx.TransportError as exc:
        return _unreachable(shown, where, _transport_reason(exc))
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return CheckResult(status="error", summary=redact(f"{shown}: {one_line(exc)}"))
    return response, body, latency_ms


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    chunks = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


def _result(
    action: HttpGet, shown: str, response: httpx.Response, body: bytes, latency_ms: int
) -> CheckResult:
    status = response.status_code
    where = url_for_display(action.url)
    expected = status in action.expect_status if action.expect_status else 200 <= status < 300
    findings = [
        Finding(name="http.status", value=status, subject=where),
        Finding(name="http.reachable", value=True, subject=where),
        Finding(name="http.latency_ms", value=latency_ms, subject=where),
    ]
    document = _json(body, response.headers.get("content-type", ""))
    body_status: str | None = None
    if isinstance(document, dict) and isinstance(document.get("status"), str):
        body_status = document["status"].lower()
        findings.append(Finding(name="http.body_status", value=body_status, subject=where))
    dependencies = _dependencies(document)
    findings += [
        Finding(name=f"http.dependency.{name}", value=state, subject=where)
        for name, state in dependencies.items()
    ]

    line = f"HTTP/{response.http_version.removeprefix('HTTP/')} {status} {response.reason_phrase}"
    summary = f"{shown}: {status} {response.reason_phrase}".rstrip()
    if "location" in response.headers:
        summary += f" -> {url_for_display(response.headers['location'])}"
    unhealthy = [f"{n} {s}" for n, s in dependencies.items() if s not in _HEALTHY]
    if action.healthy_body and body_status is not None and body_status not in _HEALTHY:
        unhealthy.insert(0, f"status {body_status}")
    if action.healthy_body and unhealthy:
        expected = False
    if unhealthy:
        summary += f" ({', '.join(unhealthy)})"
    summary += f" in {latency_ms} ms"

    output = [line, f"latency: {latency_ms} ms"]
    if "location" in response.headers:
        output.append(f"location: {url_for_display(response.headers['location'])}")
    if body:
        text = body[:_SHOWN_BODY].decode("utf-8", errors="replace")
        truncated = len(body) > _SHOWN_BODY
        output += ["", text + ("\n... (truncated)" if truncated else "")]
    return CheckResult(
        status="ok" if expected else "problem",
        summary=redact(one_line(summary)),
        output=redact("\n".join(output)),
        findings=findings,
    )


def _json(body: bytes, content_type: str) -> object:
    if not body or not ("json" in content_type or body.lstrip()[:1] in (b"{", b"[")):
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _dependencies(document: object) -> dict[str, str]:
    """Dependency name -> status from the usual health-body shapes (dict or list, str or object)."""
    if not isinstance(document, dict):
        return {}
    found: dict[str, str] = {}
    for key in _DEPENDENCY_KEYS:
        listed = document.get(key)
        if isinstance(listed, dict):
            items = list(listed.items())
        elif isinstance(listed, list):
            items = [(d.get("name"), d) for d in listed if isinstance(d, dict)]
        else:
            continue
        for name, value in items:
            status = _status_of(value)
            if isinstance(name, str) and name and status:
                found[name] = status
    return found


def _status_of(value: object) -> str | None:
    if isinstance(value, bool):
        return "up" if value else "down"
    if isinstance(value, dict):
        value = value.get("status")
    return value.lower() if isinstance(value, str) and value else None


def _unreachable(shown: str, where: str, reason: str) -> CheckResult:
    return unreachable(shown, reason, "http.reachable", where)


def _transport_reason(exc: BaseException) -> str:
    """Name the root cause httpx wraps (refused, unresolvable, bad certificate, reset)."""
    for cause in causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ConnectionResetError):
            return "connection reset"
        if isinstance(cause, socket.gaierror):
            return "host name does not resolve"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted ({cause.verify_message})"
    return one_line(exc)


BACKEND = Backend("http", READS, WRITES, lambda clients: HttpExecutor())
