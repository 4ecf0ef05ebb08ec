"""The Slack Web API client the bot talks through, with Slack's rate limits honored."""

from __future__ import annotations

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings

# A 429 names its own wait in Retry-After; three tries ride out a burst without hiding an outage.
RATE_LIMIT_RETRIES = 3
CONNECTION_RETRIES = 2


def web_client(settings: Settings, session: aiohttp.ClientSession | None = None) -> AsyncWebClient:
    """A client on SLACK_API_URL with the bot token, retrying 429s and dropped connections."""
    return AsyncWebClient(
        token=settings.slack_bot_token,
        # One pooled session: without it slack_sdk opens a new connection for every call.
        session=session,
        # The SDK appends method names to the base URL as is.
        base_url=settings.slack_api_url.rstrip("/") + "/",
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
            AsyncConnectionErrorRetryHandler(max_retry_count=CONNECTION_RETRIES),
        ],
    )
