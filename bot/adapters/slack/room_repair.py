"""Opening a room as one recoverable unit: an incident is marked room pending until its room
exists, and every touch (command, click, nudge, the periodic repair) retries it."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from bot.adapters.slack.api_errors import failure
from bot.adapters.slack.context import SlackContext, text_message
from bot.adapters.slack.rendering.message import Message
from bot.adapters.slack.rooms import CHANNEL, ORIGIN, ROOM_PENDING, STAGE, Rooms
from bot.engine.incident import Incident
from bot.errors import InvalidRequest

log = logging.getLogger(__name__)

# Marks a room being made right now (a retry waits its turn), rather than a failure.
OPENING = "being opened"
# Outlives any one attempt at making a room; frees it if the process dies in the middle.
CLAIM_SECONDS = 120.0
REPAIR_EVERY_S = 60.0
# A click on a room being made right now waits this long for it (after its ack).
WAIT_FOR_OPENING_S = 5.0


class RoomPending(InvalidRequest):
    """The incident has no usable room yet; the message says why, in one line."""


def pending(incident: Incident) -> str:
    """Why the incident's room is pending, or "" when it has its room: once its first stage is
    shown (the last part of opening), even before the mark is cleared."""
    if STAGE in incident.links:
        return ""
    return incident.links.get(ROOM_PENDING, "")


def pending_note(incident: Incident) -> str:
    reason = pending(incident)
    return f"{incident.id}'s room is pending ({reason}); the bot retries, try again in a moment"


async def open_room(rooms: Rooms, incident: Incident, opener: str, origin: str) -> Incident:
    """Mark the new incident room pending, then make its room; RoomPending if Slack fails."""
    incident = await rooms.engine.set_links(incident.id, {ROOM_PENDING: OPENING, ORIGIN: origin})
    return await _make(rooms, incident, opener)


async def ensure_room(rooms: Rooms, incident: Incident) -> Incident:
    """The incident, with its room made first if it is pending; RoomPending if that fails."""
    if not pending(incident):
        if CHANNEL not in incident.links:
            raise InvalidRequest(f"{incident.id} has no Slack room")
        return incident
    return await _make(rooms, incident, incident.opened_by)


async def repair_all(rooms: Rooms) -> None:
    """Retry every open incident whose room is pending (the periodic repair)."""
    for incident in await rooms.engine.list_incidents("open"):
        if pending(incident):
            with suppress(RoomPending):
                await ensure_room(rooms, incident)


@asynccontextmanager
async def repairing(rooms: Rooms, every_s: float = REPAIR_EVERY_S) -> AsyncIterator[None]:
    """Runs repair_all every `every_s` seconds while the block runs."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await repair_all(rooms)
            except Exception as exc:
                log.warning("repairing pending rooms failed: %s", failure(exc))

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def hold(ctx: SlackContext, incident: Incident, message: Message) -> None:
    """A nudge for a room-pending incident: shown in the incidents channel now (or logged), and
    posted in the room once it exists."""
    ctx.rooms.held.setdefault(incident.id, []).append(message)
    note = f"{message.text} ({pending_note(incident)})"
    channel = ctx.config.channels.incidents
    if not channel:
        log.warning("%s", note)
        return
    try:
        await ctx.rooms.post_to(channel, text_message(note))
    except Exception as exc:
        log.warning("%s; and the incidents channel failed too: %s", note, failure(exc))


async def _make(rooms: Rooms, incident: Incident, opener: str) -> Incident:
    key, owner = f"slack-room:{incident.id}", uuid.uuid4().hex
    # Across replicas and concurrent clicks only one attempt makes the room.
    if not await rooms.engine.store.claim(key, owner, CLAIM_SECONDS):
        return await _made_elsewhere(rooms, incident)
    try:
        incident = await rooms.open_room(incident, opener, incident.links.get(ORIGIN, ""))
    except Exception as exc:
        reason = failure(exc)
        log.warning("the room of %s is pending: %s", incident.id, reason)
        incident = await rooms.engine.set_links(incident.id, {ROOM_PENDING: reason})
        raise RoomPending(pending_note(incident)) from None
    finally:
        await rooms.engine.store.release(key, owner)
    incident = await rooms.engine.set_links(incident.id, {ROOM_PENDING: ""})
    for message in rooms.held.pop(incident.id, []):
        await rooms.post(incident, message)
    return incident


async def room_or_hold(ctx: SlackContext, incident: Incident, message: Message) -> Incident | None:
    """The incident with its room, to post `message` in; None when the message was held for a
    pending room or the incident has no Slack room at all (said in the log)."""
    try:
        return await ensure_room(ctx.rooms, incident)
    except RoomPending:
        await hold(ctx, incident, message)
    except InvalidRequest as exc:
        log.info("not posted (%s): %s", exc, message.text)
    return None


async def _made_elsewhere(rooms: Rooms, incident: Incident) -> Incident:
    """Another attempt is making the room: the incident once it has, or RoomPending."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_FOR_OPENING_S
    while loop.time() < deadline:
        await asyncio.sleep(0.1)
        incident = await rooms.engine.get(incident.id)
        if not pending(incident):
            return incident
    raise RoomPending(pending_note(incident))
