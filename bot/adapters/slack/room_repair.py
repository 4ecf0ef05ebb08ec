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
from bot.engine.lease import renewed
from bot.engine.notifier import FIRING, Firing
from bot.errors import BotError, InvalidRequest, StoreError

log = logging.getLogger(__name__)

# Marks a room being made right now (a retry waits its turn), rather than a failure.
OPENING = "being opened"
# Renewed while an attempt makes the room; frees it this soon if the process dies or the store
# fails over in the middle (the claim may not survive the promotion, or its release not arrive).
CLAIM_SECONDS = 10.0
REPAIR_EVERY_S = 60.0
# A room left pending (a store failover, Slack refusing) is retried after this, then twice as
# long each time up to REPAIR_EVERY_S: its held nudges are due now.
RETRY_FIRST_S = 1.0
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


async def repair_all(rooms: Rooms) -> bool:
    """Retry every open incident whose room is pending (the periodic repair), and post the
    nudges this process holds for rooms made since (by it or another replica); whether every
    room is made and every held nudge posted."""
    settled = True
    for incident in await rooms.engine.list_incidents("open"):
        if pending(incident):
            try:
                await ensure_room(rooms, incident)
            except RoomPending:
                settled = False
    for incident_id in list(rooms.held):
        incident = await rooms.engine.get(incident_id)
        if pending(incident) or CHANNEL not in incident.links:
            settled = False
            continue
        await _post_held(rooms, incident)
    return settled


@asynccontextmanager
async def repairing(rooms: Rooms, every_s: float = REPAIR_EVERY_S) -> AsyncIterator[None]:
    """Runs repair_all every `every_s` seconds while the block runs, and soon after a nudge is
    held or a repair leaves a room pending (backing off to `every_s`)."""

    async def loop() -> None:
        backoff = 0.0
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(rooms.repair_soon.wait(), backoff or every_s)
            if rooms.repair_soon.is_set():
                # Just held: the attempt that held it failed a moment ago, so not at once.
                rooms.repair_soon.clear()
                backoff = RETRY_FIRST_S
                await asyncio.sleep(backoff)
            try:
                settled = await repair_all(rooms)
            except Exception as exc:
                log.warning("repairing pending rooms failed: %s", failure(exc))
                settled = False
            backoff = 0.0 if settled else min(every_s, max(RETRY_FIRST_S, backoff * 2))

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
    ctx.rooms.repair_soon.set()
    await _held_note(ctx, incident, message)


async def _make(rooms: Rooms, incident: Incident, opener: str) -> Incident:
    key, owner = f"slack-room:{incident.id}", uuid.uuid4().hex
    # Across replicas and concurrent clicks only one attempt makes the room.
    if not await rooms.engine.store.claim(key, owner, CLAIM_SECONDS):
        return await _made_elsewhere(rooms, incident)
    async with renewed(rooms.engine.store, key, owner, CLAIM_SECONDS):
        try:
            incident = await rooms.open_room(incident, opener, incident.links.get(ORIGIN, ""))
        except Exception as exc:
            reason = failure(exc)
            log.warning("the room of %s is pending: %s", incident.id, reason)
            try:
                incident = await rooms.engine.set_links(incident.id, {ROOM_PENDING: reason})
            except BotError as store_exc:
                # The store failed too: the mark stays as it was, pending all the same.
                log.warning("the room of %s not marked: %s", incident.id, store_exc)
            raise RoomPending(pending_note(incident)) from None
    incident = await rooms.engine.set_links(incident.id, {ROOM_PENDING: ""})
    await _post_held(rooms, incident)
    return incident


async def _post_held(rooms: Rooms, incident: Incident) -> None:
    """Post the nudges held for the incident's room, now made; any not posted stay held."""
    messages = rooms.held.pop(incident.id, [])
    for done, message in enumerate(messages):
        try:
            await rooms.post(incident, message)
        except Exception:
            rooms.held.setdefault(incident.id, [])[:0] = messages[done:]
            raise


async def room_or_hold(ctx: SlackContext, incident: Incident, message: Message) -> Incident | None:
    """The incident with its room, to post `message` in; None when the message was held for a
    pending room or the incident has no Slack room at all (said in the log)."""
    try:
        return await ensure_room(ctx.rooms, incident)
    except RoomPending:
        await hold(ctx, incident, message)
    except StoreError as exc:
        # The store failed over under the room's repair: the repair retries it in a moment.
        log.warning("the room of %s not repaired: %s", incident.id, exc)
        await hold(ctx, incident, message)
    except InvalidRequest as exc:
        log.info("not posted (%s): %s", exc, message.text)
    return None


async def post_nudge(ctx: SlackContext, incident: Incident, message: Message) -> Incident | None:
    """Post a nudge in the incident's room; the incident with its room, or None if not posted.

    A firing the scheduler tells (FIRING) is posted under its id, at most once however often it
    is told; while its room is pending it is held in the store, not here: RoomPending leaves it
    recorded as unposted, and whichever replica next tells it once the room exists posts it.
    Anything else is held in this process (room_or_hold)."""
    firing = FIRING.get()
    if firing is None:
        in_room = await room_or_hold(ctx, incident, message)
        if in_room is not None:
            await ctx.rooms.post(in_room, message)
        return in_room
    try:
        in_room = await ensure_room(ctx.rooms, incident)
    except (RoomPending, StoreError) as exc:
        ctx.rooms.repair_soon.set()
        held = Firing(f"{firing.id}/held", firing.at, firing.fresh)
        await _held_note(ctx, incident, message, held)
        raise RoomPending(f"nudge held for a pending room: {exc}") from None
    except InvalidRequest as exc:
        log.info("not posted (%s): %s", exc, message.text)
        return None
    await ctx.rooms.post(in_room, message, once=firing)
    return in_room


async def _held_note(
    ctx: SlackContext, incident: Incident, message: Message, once: Firing | None = None
) -> None:
    """Say in the incidents channel (or the log) that the nudge waits for its room; with
    `once`, only the first time however often the firing is retried."""
    note = f"{message.text} ({pending_note(incident)})"
    # A drill's nudge waits for its room: the incidents channel is for real incidents.
    channel = ctx.config.channels.incidents if incident.drill is None else ""
    if not channel:
        log.warning("%s", note)
        return
    try:
        await ctx.rooms.post_to(channel, text_message(note), once=once)
    except Exception as exc:
        log.warning("%s; and the incidents channel failed too: %s", note, failure(exc))


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
