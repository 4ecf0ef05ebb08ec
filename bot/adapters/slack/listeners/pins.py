"""Events API: a 📌 reaction or a pin on a message in an incident's room puts the message on
the incident's timeline; taking it off takes it out. Other channels' events are ignored."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.adapters.slack.api_errors import api_error
from bot.adapters.slack.context import SlackContext
from bot.adapters.slack.rendering.escape import unescape
from bot.adapters.slack.rooms import CHANNEL, HEADLINE, THREAD
from bot.engine.incident import Incident
from bot.errors import BotError

log = logging.getLogger(__name__)

PUSHPIN = "pushpin"


def message_time(ts: str) -> datetime:
    return datetime.fromtimestamp(float(ts), UTC)


class Pins:
    """Finds the incident whose room holds a message, and records or drops the message."""

    def __init__(self, ctx: SlackContext) -> None:
        self.ctx = ctx

    async def changed(
        self,
        channel: str,
        ts: str,
        mark: str,
        user: str,
        added: bool,
        message: dict[str, Any] | None = None,
    ) -> None:
        """Record (or drop) `mark` on the message `ts`; `message` when the event carried it."""
        rooms = [
            i for i in await self.ctx.engine.list_incidents("open")
            if i.links.get(CHANNEL) == channel
        ]  # fmt: skip
        if not rooms:
            log.info("ignored a %s in %s: not an incident's room", mark, channel)
            return
        if message is None:
            message = await self._fetch(channel, ts)
            if message is None:
                return
        incident = self._owner(rooms, message)
        if incident is None or incident.links.get(HEADLINE) == ts:
            log.info("ignored a %s on %s in %s: no incident's message", mark, ts, channel)
            return
        actor = await self.ctx.identities.actor(user)
        if added:
            author = str(message.get("user") or message.get("username") or "unknown")
            text = unescape(str(message.get("text") or ""))
            await self.ctx.engine.pin_message(
                incident.id, ts, author, message_time(ts), text, mark, actor
            )
        else:
            await self.ctx.engine.unpin_message(incident.id, ts, mark, actor)

    @staticmethod
    def _owner(rooms: list[Incident], message: dict[str, Any]) -> Incident | None:
        """In thread mode a channel holds several incidents, each in its own thread."""
        thread = str(message.get("thread_ts") or message.get("ts") or "")
        for incident in rooms:
            if THREAD not in incident.links or incident.links[THREAD] == thread:
                return incident
        return None

    async def _fetch(self, channel: str, ts: str) -> dict[str, Any] | None:
        """The message a reaction is on: a thread's replies include it whether it is a root,
        a reply or a plain message, which conversations.history would miss."""
        try:
            # Slack lists a thread's root first whatever `oldest` says: the page holds both.
            answer = await self.ctx.rooms.client.conversations_replies(
                channel=channel, ts=ts, oldest=ts, inclusive=True, limit=2
            )
        except SlackApiError as exc:
            log.warning("could not read the message %s in %s: %s", ts, channel, api_error(exc))
            return None
        for message in answer.get("messages") or []:
            if message.get("ts") == ts:
                return dict(message)
        log.info("no message %s in %s", ts, channel)
        return None


def register(app: AsyncApp, ctx: SlackContext) -> None:
    pins = Pins(ctx)

    async def reacted(event: dict[str, Any], added: bool) -> None:
        item = event.get("item") or {}
        if event.get("reaction") != PUSHPIN or item.get("type") != "message":
            return
        user = str(event.get("user", ""))
        channel, ts = str(item.get("channel", "")), str(item.get("ts", ""))
        await _guarded(pins.changed(channel, ts, f"reaction:{user}", user, added))

    async def pinned(event: dict[str, Any], added: bool) -> None:
        item = event.get("item") or {}
        if item.get("type") != "message":
            return
        message = item.get("message") or {}
        channel = str(item.get("channel") or event.get("channel_id") or "")
        ts = str(message.get("ts", ""))
        user = str(event.get("user", ""))
        # Slack sends the pinned message whole: no history read is needed.
        await _guarded(pins.changed(channel, ts, "pin", user, added, message or None))

    @app.event("reaction_added")
    async def reaction_added(event: dict[str, Any]) -> None:
        await reacted(event, True)

    @app.event("reaction_removed")
    async def reaction_removed(event: dict[str, Any]) -> None:
        await reacted(event, False)

    @app.event("pin_added")
    async def pin_added(event: dict[str, Any]) -> None:
        await pinned(event, True)

    @app.event("pin_removed")
    async def pin_removed(event: dict[str, Any]) -> None:
        await pinned(event, False)


async def _guarded(work: Awaitable[None]) -> None:
    """Nobody clicked anything: a failure goes to the log, never to a person."""
    try:
        await work
    except BotError as exc:
        log.warning("timeline pin not recorded: %s", exc)
