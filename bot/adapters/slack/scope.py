"""Where an incident's buttons act: in its own room, and nowhere else."""

from __future__ import annotations

from bot.adapters.slack.rooms import CHANNEL
from bot.engine.incident import Incident
from bot.errors import InvalidRequest


def in_its_room(incident: Incident, channel: str) -> bool:
    """Whether `channel` is the incident's room (its channel, or in thread mode the channel of
    its thread, where its announcement is the thread's root)."""
    return bool(channel) and incident.links.get(CHANNEL) == channel


def require_its_room(incident: Incident, channel: str, what: str = "buttons") -> None:
    """InvalidRequest unless the click or command came from the incident's room."""
    if not in_its_room(incident, channel):
        raise InvalidRequest(f"{incident.id}'s {what} act only in its room")
