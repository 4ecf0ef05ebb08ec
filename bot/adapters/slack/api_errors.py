"""What went wrong with a Slack Web API call, in one line, whatever came back."""

from __future__ import annotations

import asyncio

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

NOT_AN_ANSWER = "not a Slack API answer"


def api_error(exc: SlackApiError) -> str:
    """Slack's error code; for a body that is not Slack's JSON (a proxy's HTML 500 page), the
    HTTP status. The SDK's `response` is then sometimes the raw aiohttp response."""
    response = exc.response
    data = getattr(response, "data", None)
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return f"HTTP {status or '?'}, {NOT_AN_ANSWER}"


def failure(exc: BaseException) -> str:
    """One line for any failure of a call to Slack, for logs and for people."""
    if isinstance(exc, SlackApiError):
        return f"Slack answered {api_error(exc)}"
    if isinstance(exc, SlackClientError | aiohttp.ClientError | OSError | asyncio.TimeoutError):
        return f"Slack unreachable ({type(exc).__name__})"
    first = (str(exc).splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
