"""The Slack Web API client the bot talks through, with Slack's rate limits honored and counted."""

from __future__ import annotations

import aiohttp
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.posting import IdempotentConnectionRetries
from bot.metrics import SLACK_API_ERRORS, SLACK_RATE_LIMITED
from bot.settings import Settings

# A 429 names its own wait in Retry-After; three tries ride out a burst without hiding an outage.
RATE_LIMIT_RETRIES = 3
CONNECTION_RETRIES = 2
# Anything not under the Web API base URL (file upload URLs carry an id per file).
OTHER_METHOD = "other"


class ApiCallCounter(AsyncRetryHandler):
    """Counts Slack's error answers and 429s by method; never asks for a retry itself.

    A retry handler is the one hook the SDK consults on every HTTP answer, retried ones
    included, and Bolt hands the same handlers to the client it makes for each request.
    """

    def __init__(self, base_url: str) -> None:
        super().__init__(max_retry_count=0)
        self._base_url = base_url

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if error is None and response is not None:
            self.count(request.url, response)
        return False

    def count(self, url: str, response: HttpResponse) -> None:
        method = self.method(url)
        if response.status_code == 429:
            SLACK_RATE_LIMITED.inc(method=method)
        elif isinstance(response.body, dict) and response.body.get("ok") is False:
            SLACK_API_ERRORS.inc(method=method, error=str(response.body.get("error") or "unknown"))

    def method(self, url: str) -> str:
        if not url.startswith(self._base_url):
            return OTHER_METHOD
        return url[len(self._base_url) :].split("?", 1)[0] or OTHER_METHOD


def web_client(settings: Settings, session: aiohttp.ClientSession | None = None) -> AsyncWebClient:
    """A client on SLACK_API_URL with the bot token, retrying 429s and dropped connections
    (of calls that are safe to repeat)."""
    # The SDK appends method names to the base URL as is.
    base_url = settings.slack_api_url.rstrip("/") + "/"
    return AsyncWebClient(
        token=settings.slack_bot_token,
        # One pooled session: without it slack_sdk opens a new connection for every call.
        session=session,
        base_url=base_url,
        retry_handlers=[
            # First, so it sees every answer before a retry handler claims it.
            ApiCallCounter(base_url),
            AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
            # Posts are not retried blindly: post_once looks for a lost post first.
            IdempotentConnectionRetries(max_retry_count=CONNECTION_RETRIES),
        ],
    )
