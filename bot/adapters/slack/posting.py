"""Posting a message exactly once: a post whose answer is lost is looked up before it is sent
again, by the unique id its message metadata carries."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

EVENT_TYPE = "runbook_bot_post"
# Methods that do something again when sent again; never retried blindly.
NOT_IDEMPOTENT = ("chat.postMessage",)
# Tries after the first whose answer was lost: each one looks before it posts.
REPOST_TRIES = 2
# The lookup starts this long before the post, for clocks that differ from Slack's.
CLOCK_SLACK_S = 60.0
LOOKUP_LIMIT = 100
# The connection failed or went silent: Slack may or may not have acted on the request.
AMBIGUOUS = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError)


class IdempotentConnectionRetries(AsyncConnectionErrorRetryHandler):
    """Retries dropped connections, except of calls that would act twice (those look first)."""

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        method = request.url.split("?", 1)[0].rsplit("/", 1)[-1]
        if method in NOT_IDEMPOTENT:
            return False
        return await super().can_retry_async(
            state=state, request=request, response=response, error=error
        )


async def post_once(
    client: AsyncWebClient,
    *,
    post_id: str | None = None,
    look_since: float | None = None,
    **message: Any,
) -> str:
    """chat.postMessage tagged with a post id (unique unless given); returns the message's ts.
    After a lost answer it posts again only if the channel (or thread) does not hold that id.
    With `look_since` (a time no later than any earlier post of this id) it looks first too,
    and posts nothing if the id is there: a post someone else may already have made."""
    post_id = post_id or uuid.uuid4().hex
    metadata = {"event_type": EVENT_TYPE, "event_payload": {"post_id": post_id}}
    channel, thread_ts = str(message["channel"]), message.get("thread_ts")
    if look_since is not None:
        found = await _find(client, channel, thread_ts, look_since - CLOCK_SLACK_S)
        if post_id in found:
            log.info("post %s: already in the channel; not posted again", post_id)
            return found[post_id]
    since = time.time() - CLOCK_SLACK_S
    for _ in range(REPOST_TRIES):
        try:
            response = await client.chat_postMessage(metadata=metadata, **message)
            return str(response["ts"])
        except AMBIGUOUS as exc:
            log.info("post %s: answer lost (%s); looking before posting again", post_id, exc)
            found = await _find(client, channel, thread_ts, since)
            if post_id in found:
                return found[post_id]
    response = await client.chat_postMessage(metadata=metadata, **message)
    return str(response["ts"])


async def _find(
    client: AsyncWebClient, channel: str, thread_ts: str | None, since: float
) -> dict[str, str]:
    """The ts of every tagged message posted since `since`, by post id."""
    window: dict[str, Any] = {
        "channel": channel,
        "oldest": f"{since:.6f}",
        "limit": LOOKUP_LIMIT,
        "include_all_metadata": True,
    }
    if thread_ts:
        response = await client.conversations_replies(ts=thread_ts, **window)
    else:
        response = await client.conversations_history(**window)
    found = {}
    for posted in response.get("messages") or []:
        metadata = posted.get("metadata") or {}
        if metadata.get("event_type") == EVENT_TYPE:
            found[str((metadata.get("event_payload") or {}).get("post_id"))] = str(posted["ts"])
    return found
