"""Escalation and reminder state: escalate now, we're on it, snooze, mute, firings."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, get_args

from bot.engine.audience import outside_updates
from bot.engine.core import EngineCore
from bot.engine.incident import BOT, Actor, Incident, Mark, TimerKind, Unposted
from bot.engine.timers import Timer, armed_timers, progress
from bot.errors import InvalidRequest
from bot.playbooks.models import Flag

FLAGS: tuple[str, ...] = get_args(Flag)

_MAX_SNOOZE_MINUTES = 240


class EscalationFlow(EngineCore):
    """What the timer buttons change, and the record of each firing."""

    async def escalate_now(self, incident_id: str, level: int, actor: Actor) -> Incident:
        """Record that a level was escalated to; the caller notifies its contacts."""
        return await self._mark_level(
            incident_id, level, actor, "escalated", "escalated to level {level} ({title})"
        )

    async def acknowledge_escalation(self, incident_id: str, level: int, actor: Actor) -> Incident:
        """ "We're on it": stop nudging about this level without escalating."""
        return await self._mark_level(
            incident_id,
            level,
            actor,
            "acknowledged",
            "on it: level {level} ({title}) not escalated for now",
        )

    async def _mark_level(
        self,
        incident_id: str,
        level: int,
        actor: Actor,
        mark: Literal["escalated", "acknowledged"],
        text: str,
    ) -> Incident:
        event = "escalated" if mark == "escalated" else "escalation-acknowledged"

        def change(incident: Incident) -> None:
            self._require_open(incident)
            found = self._level(incident, level)
            timers = incident.timers
            marks = timers.escalated if mark == "escalated" else timers.acknowledged
            done = marks.get(level)
            if done is not None:
                raise InvalidRequest(f"level {level} was already {mark} by {done.by}")
            marks[level] = Mark(by=actor.label, at=self.clock())
            incident.record(self.clock(), actor, event, text.format(level=level, title=found.title))

        return (await self._mutate(incident_id, change, actor))[0]

    async def snooze(
        self, incident_id: str, kind: TimerKind, minutes: int, actor: Actor
    ) -> Incident:
        if kind not in ("escalation", "reminder"):
            raise InvalidRequest(f"cannot snooze '{kind}': snooze escalation or reminder")
        if not 1 <= minutes <= _MAX_SNOOZE_MINUTES:
            raise InvalidRequest(f"snooze for 1 to {_MAX_SNOOZE_MINUTES} minutes, not {minutes}")

        def change(incident: Incident) -> None:
            self._require_open(incident)
            until = self.clock() + timedelta(minutes=minutes)
            incident.timers.snoozed_until[kind] = until
            incident.record(
                self.clock(),
                actor,
                "snoozed",
                f"{kind} nudges snoozed for {minutes} min (until {until:%H:%M} UTC)",
            )

        return (await self._mutate(incident_id, change, actor))[0]

    async def mute_reminders(self, incident_id: str, actor: Actor, muted: bool = True) -> Incident:
        def change(incident: Incident) -> None:
            self._require_open(incident)
            if incident.timers.reminders_muted == muted:
                raise InvalidRequest(f"status reminders are already {'muted' if muted else 'on'}")
            incident.timers.reminders_muted = muted
            incident.record(
                self.clock(),
                actor,
                "reminders-muted" if muted else "reminders-unmuted",
                "status-update reminders " + ("muted" if muted else "back on"),
            )

        return (await self._mutate(incident_id, change, actor))[0]

    async def raise_flag(self, incident_id: str, flag: str, actor: Actor) -> Incident:
        """A responder reports what the runbook escalates on, e.g. "security suspected"."""
        if flag not in FLAGS:
            raise InvalidRequest(f"no flag '{flag}' (flags: {', '.join(FLAGS)})")

        def change(incident: Incident) -> None:
            self._require_open(incident)
            done = incident.timers.flags.get(flag)
            if done is not None:
                raise InvalidRequest(f"'{flag}' was already raised by {done.by}")
            incident.timers.flags[flag] = Mark(by=actor.label, at=self.clock())
            levels = [
                f"level {level.level} ({level.title})"
                for level in self.playbook_for(incident).escalation
                if flag in level.on_flags
            ]
            then = f"; escalates to {', '.join(levels)}" if levels else ""
            incident.record(self.clock(), actor, "flag-raised", f"{flag.replace('-', ' ')}{then}")

        return (await self._mutate(incident_id, change, actor))[0]

    async def metric_condition(
        self, incident_id: str, level: int, since: datetime | None, detail: str
    ) -> Incident:
        """Record that a level's metric condition began to hold (since) or stopped (None)."""

        def change(incident: Incident) -> None:
            self._require_open(incident)
            found = self._level(incident, level)
            held = incident.timers.conditions
            if (since is None) == (level not in held):
                return
            if since is None:
                del held[level]
                text = f"level {level} ({found.title}) condition no longer holds"
            else:
                held[level] = since
                text = f"level {level} ({found.title}) condition holds: {detail}"
            incident.record(self.clock(), BOT, "metric-condition", text)

        return (await self._mutate(incident_id, change, BOT))[0]

    async def fire_timer(self, incident_id: str, key: str, late: bool) -> tuple[Incident, Timer]:
        """Record that a due timer fired; InvalidRequest if it is no longer due or fired."""

        def change(incident: Incident) -> Timer:
            self._require_open(incident)
            now = self.clock()
            playbook = self.playbook_for(incident)
            timer = next((t for t in armed_timers(incident, playbook) if t.key == key), None)
            if timer is None:
                raise InvalidRequest(f"timer {key} of {incident.id} is no longer pending")
            incident.timers.fired.append(key)
            incident.timers.unposted[key] = Unposted(at=now, late=late)
            lateness = " (late: the bot was not running when it was due)" if late else ""
            if timer.level is not None:
                event = "escalation-due"
                what = f"escalation to level {timer.level.level} ({timer.level.title}) is due"
            elif timer.kind == "commander":
                event = "commander-prompt"
                what = "no commander yet: the room is asked to confirm one"
            else:
                incident.timers.last_reminder_at = now
                event = "status-reminder"
                last = outside_updates(incident)[-1:]
                since = f"last one {last[0].posted_at:%H:%M} UTC" if last else "none posted yet"
                what = f"a status update is due ({since})"
            incident.record(now, BOT, event, f"{what}{lateness}: {progress(incident, now)}")
            return timer

        return await self._mutate(incident_id, change, BOT)

    async def confirm_unposted(self, incident_id: str, key: str) -> Incident:
        """The incident, written back (so confirmed by the store's replicas) while it still
        holds `key` as fired and not posted; InvalidRequest if it does not, or is resolved."""

        def change(incident: Incident) -> None:
            self._require_open(incident)
            if key not in incident.timers.unposted:
                raise InvalidRequest(f"timer {key} of {incident.id} is not waiting to be posted")

        return (await self._mutate(incident_id, change, BOT))[0]

    async def posted(self, incident_id: str, key: str) -> Incident:
        """Record that a firing's nudge was posted (or needs none): nobody posts it again."""

        def change(incident: Incident) -> None:
            incident.timers.unposted.pop(key, None)

        return (await self._mutate(incident_id, change, BOT))[0]
