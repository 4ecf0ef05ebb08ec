"""The room's own messages on the timeline: pinned (or marked 📌) in, unpinned out."""

from __future__ import annotations

from datetime import datetime

from bot.engine.core import EngineCore
from bot.engine.incident import Actor, Incident, PinnedMessage, TimelineEntry

# A pinned message is a quote, not a transcript: longer ones are cut.
MAX_PINNED_TEXT = 1000


class PinFlow(EngineCore):
    """Adds and removes pinned messages; one entry a message however many ways it is pinned."""

    async def pin_message(
        self, incident_id: str, key: str, author: str, at: datetime, text: str, mark: str, by: Actor
    ) -> Incident:
        def change(incident: Incident) -> None:
            pinned = incident.pinned.get(key)
            if pinned is None:
                pinned = PinnedMessage(author=author, at=at, text=text.strip()[:MAX_PINNED_TEXT])
                incident.pinned[key] = pinned
            if mark not in pinned.marks:
                pinned.marks.append(mark)

        return (await self._mutate(incident_id, change, by))[0]

    async def unpin_message(self, incident_id: str, key: str, mark: str, by: Actor) -> Incident:
        def change(incident: Incident) -> None:
            pinned = incident.pinned.get(key)
            if pinned is None:
                return
            if mark in pinned.marks:
                pinned.marks.remove(mark)
            if not pinned.marks:
                del incident.pinned[key]

        return (await self._mutate(incident_id, change, by))[0]


def full_timeline(incident: Incident) -> list[TimelineEntry]:
    """The bot's record and the room's pinned messages, in the order they happened."""
    pinned = [
        TimelineEntry(at=p.at, actor=p.author, event="pinned", text=p.text)
        for p in incident.pinned.values()
    ]
    # Stable: entries at the same moment keep the record's order, pins after.
    return sorted([*incident.timeline, *pinned], key=lambda e: e.at)
