"""Arms every open incident's timers in APScheduler and fires each one once across replicas.

APScheduler 3's job stores cannot be shared between processes, so every replica keeps its
own in-memory jobs for every open incident and a claim in the shared store decides which
replica fires; the incident's record of fired keys keeps a restart from firing one again.

A firing is recorded in two steps: decided (fired and unposted), then posted. A firing found
decided but unposted (its poster died, its write went unconfirmed, its room is pending) is
posted by whichever replica next takes its claim, after writing the record back so a replica
confirms it; the notifier is told the firing's id (FIRING) so a post that did happen before a
crash is found rather than made again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from datetime import UTC, timedelta
from types import TracebackType

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.engine.engine import Engine
from bot.engine.incident import Incident
from bot.engine.lease import LEASE_S, renewed
from bot.engine.metric_watch import MetricWatch
from bot.engine.notifier import FIRING, Firing, Notifier
from bot.engine.recovery import unfinished
from bot.engine.timers import Timer, armed_timers, fired_timer, reminder_timer
from bot.errors import BotError, InvalidRequest
from bot.logs import working_on
from bot.metrics import TIMER_LATENESS
from bot.playbooks.models import Playbook

log = logging.getLogger(__name__)

# The claim keeps replicas from notifying concurrently; the compare-and-set record of fired
# keys is what refuses a second firing. So the claim is short and renewed while its holder
# fires: a replica killed or paused mid-firing holds the timer up only this long before another
# takes it over, and if it wakes after that, it finds the key recorded and does nothing.
CLAIM_TTL_S = 2.0
# APScheduler may wake a hair before the due time; that is not "not due yet".
_EARLY = timedelta(milliseconds=500)
_STOP_WAIT_S = 10.0
# Firings due together wait their turn rather than exhaust the store's connections.
_CONCURRENT_FIRINGS = 16
# A failed firing is rechecked this many times, retry_delay apart, while the store does not
# answer: long enough to outlast a Sentinel failover.
_RECHECK_TRIES = 30
# A firing left unposted is retried at each recheck this many times in a row, then less often.
_QUICK_RETRIES = 5


class Scheduler:
    """Timers of every open incident, re-armed whenever the engine changes one."""

    def __init__(
        self,
        engine: Engine,
        notifier: Notifier,
        *,
        owner: str,
        sync_interval: float = 60.0,
        retry_delay: float = 2.0,
    ) -> None:
        self.engine = engine
        self.notifier = notifier
        self.owner = owner
        # Picks up incidents opened or changed by other replicas, and theirs when they die.
        self.sync_interval = sync_interval
        self.retry_delay = retry_delay
        self._scheduler = AsyncIOScheduler(
            timezone=UTC,
            # A firing is never skipped for being late: late is exactly when it matters.
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
        # incident id -> key -> late; late is decided when this process first arms a key.
        self._armed: dict[str, dict[str, bool]] = {}
        self._firing: set[str] = set()
        self._tasks: set[asyncio.Task[object]] = set()
        self._slots = asyncio.Semaphore(_CONCURRENT_FIRINGS)
        # job id -> attempts in a row that failed, for the backoff of a firing left unposted.
        self._failures: dict[str, int] = {}
        # A timer due before this is late: the bot was not watching at its time.
        self._watching_since = engine.clock()
        prometheus = engine.config.prometheus
        self._metrics = MetricWatch(engine, prometheus) if prometheus is not None else None

    async def start(self) -> None:
        """Start inside the running loop and arm every open incident from the store."""
        self._watching_since = self.engine.clock()
        if self._metrics is not None:
            # A condition recorded before a restart may have stopped holding meanwhile: look
            # again before arming, so a level does not fire on a stale record.
            await self._metrics.evaluate()
        self._scheduler.start()
        self.engine.on_change(self.rearm)
        await self.sync()
        self._scheduler.add_job(
            self.sync,
            "interval",
            seconds=self.sync_interval,
            id="sync",
            replace_existing=True,
        )
        if self._metrics is not None:
            self._scheduler.add_job(
                self._metrics.evaluate,
                "interval",
                seconds=self._metrics.interval,
                id="metrics",
                replace_existing=True,
            )

    async def stop(self) -> None:
        """Stop firing, let firings under way finish, shut APScheduler down."""
        self.engine.remove_listener(self.rearm)
        if not self._scheduler.running:
            return
        self._scheduler.remove_all_jobs()
        self._armed.clear()
        if self._metrics is not None:
            await self._metrics.aclose()
        if self._tasks:
            _, late = await asyncio.wait(list(self._tasks), timeout=_STOP_WAIT_S)
            # Cut short while the store is still open, so their claims are released.
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=_STOP_WAIT_S)
        self._scheduler.shutdown(wait=False)
        # AsyncIOScheduler shuts down on the loop's next turn.
        await asyncio.sleep(0)

    async def __aenter__(self) -> Scheduler:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def armed(self, incident_id: str) -> dict[str, bool]:
        """Keys armed in this process for the incident, each with whether it will fire late."""
        return dict(self._armed.get(incident_id, {}))

    async def sync(self) -> None:
        """Re-arm every open incident from the store; drop the jobs of any no longer open;
        reconcile the fixes of processes that died applying them."""
        try:
            incidents = await self.engine.list_incidents("open")
        except BotError as exc:
            log.warning("timers not synced with the store: %s", exc)
            return
        for incident in incidents:
            self.rearm(incident)
        for incident_id in self._armed.keys() - {i.id for i in incidents}:
            self._forget(incident_id)
        await self._reconcile(incidents)

    async def _reconcile(self, incidents: list[Incident]) -> None:
        waiting = False
        for incident in incidents:
            for approval in unfinished(incident):
                try:
                    found = await self.engine.reconcile_fix(incident.id, approval.id)
                except BotError as exc:
                    log.warning("fix %s of %s not reconciled: %s", approval.id, incident.id, exc)
                    found = None
                if found is None:
                    # Running elsewhere, or its dead holder's lease has yet to run out.
                    waiting = True
                    continue
                try:
                    await self.notifier.fix_interrupted(found)
                except Exception as exc:
                    log.error("interrupted fix of %s not told: %s", incident.id, exc)
        if waiting and self._scheduler.running:
            self._scheduler.add_job(
                self.sync,
                "date",
                run_date=self.engine.clock() + timedelta(seconds=LEASE_S / 2),
                id="reconcile",
                replace_existing=True,
            )

    def rearm(self, incident: Incident) -> None:
        """Replace the incident's jobs with its pending timers (none once resolved)."""
        if not self._scheduler.running:
            return
        try:
            timers = armed_timers(incident, self.engine.playbook_for(incident))
        except BotError as exc:
            log.warning("timers of %s not armed: %s", incident.id, exc)
            timers = []
        now = self.engine.clock()
        previous = self._armed.pop(incident.id, {})
        armed: dict[str, bool] = {}
        for timer in timers:
            job_id = _job_id(incident.id, timer.key)
            if job_id in self._firing:
                continue
            # Due before this process started watching: the bot was down at its time. A level
            # due at opening, or on a failed fix or a flag just now, is on time.
            late = previous.get(timer.key, timer.due < self._watching_since - _EARLY)
            armed[timer.key] = late
            self._scheduler.add_job(
                self._fire,
                "date",
                run_date=max(timer.due, now),
                args=[incident.id, timer.key, late],
                id=job_id,
                replace_existing=True,
            )
        unposted = incident.timers.unposted if incident.status == "open" else {}
        for key, firing in unposted.items():
            # Decided, not known to be posted: its poster died or its write went unconfirmed.
            job_id = _job_id(incident.id, key)
            if job_id in self._firing:
                continue
            armed[key] = firing.late
            self._scheduler.add_job(
                self._fire,
                "date",
                run_date=now + self._backoff(job_id),
                args=[incident.id, key, firing.late],
                id=job_id,
                replace_existing=True,
            )
        for key in previous.keys() - armed.keys():
            self._remove(_job_id(incident.id, key))
        if armed:
            self._armed[incident.id] = armed

    def _forget(self, incident_id: str) -> None:
        for key in self._armed.pop(incident_id, {}):
            self._remove(_job_id(incident_id, key))
            self._failures.pop(_job_id(incident_id, key), None)

    def _backoff(self, job_id: str) -> timedelta:
        """No wait for a firing's first few failed attempts (a failover), then doubling up to a
        sync."""
        extra = self._failures.get(job_id, 0) - _QUICK_RETRIES
        if extra <= 0:
            return timedelta(0)
        return timedelta(seconds=min(self.sync_interval, self.retry_delay * 2**extra))

    def _remove(self, job_id: str) -> None:
        # A date job that already ran is gone by itself.
        with contextlib.suppress(JobLookupError):
            self._scheduler.remove_job(job_id)

    async def _fire(self, incident_id: str, key: str, late: bool) -> None:
        # The job's task inherits the context of whatever armed it, which may be another
        # incident's request.
        working_on(incident_id)
        job_id = _job_id(incident_id, key)
        task = asyncio.current_task()
        assert task is not None
        self._firing.add(job_id)
        self._tasks.add(task)
        try:
            async with self._slots:
                await self._fire_once(incident_id, key, late)
        except Exception as exc:
            # Not fired, or fired and not posted: a recheck tells which and retries either,
            # backing off while it keeps failing (a room that cannot be made, Slack refusing).
            log.error("timer %s of %s failed: %s", key, incident_id, exc)
            self._failures[job_id] = self._failures.get(job_id, 0) + 1
            self._recheck_later(incident_id)
        finally:
            self._firing.discard(job_id)
            self._tasks.discard(task)

    async def _fire_once(self, incident_id: str, key: str, late: bool) -> None:
        incident = await self.engine.get(incident_id)
        if incident.status != "open":
            self._forget(incident_id)
            return
        if key in incident.timers.unposted:
            await self._deliver(incident_id, key)
            return
        timer = _pending(incident, self.engine.playbook_for(incident), key)
        if timer is None or timer.due > self.engine.clock() + _EARLY:
            # Stale job: the incident changed since (snoozed, acknowledged, fired elsewhere).
            self.rearm(incident)
            return
        fired_at = self.engine.clock()
        claim = _claim(incident.id, key)
        if not await self.engine.store.claim(claim, self.owner, ttl_s=CLAIM_TTL_S):
            # Another replica fires it; look again once it has recorded that.
            self._recheck_later(incident_id)
            return
        # Released when done, fired and recorded or not: another replica (or this one's
        # recheck) need not wait out its expiry.
        async with renewed(self.engine.store, claim, self.owner, CLAIM_TTL_S):
            try:
                incident, timer = await self.engine.fire_timer(incident_id, key, late)
            except InvalidRequest:
                return  # resolved, or recorded by a replica whose claim had expired
            # A hair early (see _EARLY) is on time.
            TIMER_LATENESS.observe(max(0.0, (fired_at - timer.due).total_seconds()))
            await self._post(incident, timer, late, fresh=True)

    async def _deliver(self, incident_id: str, key: str) -> None:
        """Post a firing recorded as decided but not as posted, under its claim."""
        claim = _claim(incident_id, key)
        if not await self.engine.store.claim(claim, self.owner, ttl_s=CLAIM_TTL_S):
            self._recheck_later(incident_id)
            return
        async with renewed(self.engine.store, claim, self.owner, CLAIM_TTL_S):
            try:
                incident = await self.engine.confirm_unposted(incident_id, key)
            except InvalidRequest:
                # Posted meanwhile, resolved, or lost with a primary (then due again).
                self.rearm(await self.engine.get(incident_id))
                return
            now = self.engine.clock() + _EARLY
            unposted = incident.timers.unposted[key]
            timer = fired_timer(incident, self.engine.playbook_for(incident), key)
            if timer is None:
                # Its level left the playbook: nothing to post.
                await self.engine.posted(incident_id, key)
                return
            following = reminder_timer(incident, self.engine.playbook_for(incident))
            if timer.kind == "reminder" and following is not None and following.due <= now:
                # A newer reminder is due (its poster was down that long): it says the same.
                await self.engine.posted(incident_id, key)
                return
            await self._post(incident, timer, unposted.late, fresh=False)

    async def _post(self, incident: Incident, timer: Timer, late: bool, *, fresh: bool) -> None:
        """Tell the notifier (it raises if it did not post), then record the post."""
        at = incident.timers.unposted[timer.key].at
        told = FIRING.set(Firing(f"{incident.id}/{timer.key}", at, fresh))
        try:
            if timer.level is not None:
                contacts = self.engine.config.contact(timer.level.level, timer.level.title)
                await self.notifier.escalation_due(incident, timer.level, contacts, late)
            elif timer.kind == "commander":
                await self.notifier.commander_needed(incident, late)
            else:
                await self.notifier.status_reminder(incident, late)
        finally:
            FIRING.reset(told)
        self._failures.pop(_job_id(incident.id, timer.key), None)
        await self.engine.posted(incident.id, timer.key)

    def _recheck_later(self, incident_id: str, tries: int = _RECHECK_TRIES) -> None:
        self._scheduler.add_job(
            self._recheck,
            "date",
            run_date=self.engine.clock() + timedelta(seconds=self.retry_delay),
            args=[incident_id, tries],
            id=f"{incident_id}|recheck",
            replace_existing=True,
        )

    async def _recheck(self, incident_id: str, tries: int) -> None:
        try:
            incident = await self.engine.get(incident_id)
        except BotError as exc:
            log.warning("timers of %s not rechecked: %s", incident_id, exc)
            # The store is failing over: look again soon rather than at the next sync.
            if tries > 1:
                self._recheck_later(incident_id, tries - 1)
            return
        self.rearm(incident)


def _pending(incident: Incident, playbook: Playbook, key: str) -> Timer | None:
    return next((t for t in armed_timers(incident, playbook) if t.key == key), None)


def _claim(incident_id: str, key: str) -> str:
    return f"timer:{incident_id}:{key}"


def _job_id(incident_id: str, key: str) -> str:
    return f"{incident_id}|{key}"


def process_owner() -> str:
    """Names this process in store claims, so replicas can tell whose a claim is."""
    return f"{os.uname().nodename}:{os.getpid()}"
