"""What a run lost, did twice or did late, from what Slack saw and what the store kept.

Slack's side is every Web API call the stand-in recorded (with when it arrived); the store's is
every incident record at the end. An effect Slack was shown (a headline, "X is now incident
commander") is acknowledged: it is lost when the store has no trace of it. So is a command or
click Slack saw acked in time that never took effect, unless its sender was told that nothing
was done (the store not answering). One that Slack saw fail (a replica killed,
or answering after the balancer's 3 s) and that never took effect was cut off in flight: that
may happen to requests on a faulted replica, and its sender should be told. One that took effect
more than Slack's 3 s after it was sent was acted on late: Slack had shown its sender a failure
by then. One that took effect in time but whose ack did not arrive is listed, with whether its
sender was told it was done.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from bench.load import ACK_DEADLINE_S, CallClock, Load, Sent, by_kind
from bot.engine.incident import Incident
from bot.store import Store
from tests.support.slack_api import SlackApiStandIn

# A nudge posted later than this after its due time is late (the timers' own goal is p99 < 1 s;
# this leaves room for a loaded machine, not for a replica that stopped watching).
LATE_AFTER_S = 5.0
COMMANDER_NOTE = "is now incident commander"
# A due nudge not posted this long after the last level fell due counts as lost.
NUDGE_GRACE_S = 75.0
# What the bot answers when the store did not take a request, or it came too late
# (bot/adapters/slack/transport).
NOTHING_DONE = "nothing was done"
# What the bot tells a sender whose request was done though its ack left too late.
DONE_ANYWAY = "do not run it again"


@dataclass
class Nudges:
    """Every due escalation level: how many posts each got and how late the first was."""

    due: int = 0
    posted: int = 0
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    lateness: list[float] = field(default_factory=list)

    @property
    def per_due(self) -> float:
        return self.posted / self.due if self.due else float("nan")


@dataclass
class Ledger:
    """The counts of one run."""

    opened: int = 0
    opens_doubled: list[str] = field(default_factory=list)
    opens_lost: list[str] = field(default_factory=list)
    opens_cut: list[str] = field(default_factory=list)
    # Cut off, and the sender was told nothing was done (the ack's text, or its response_url).
    cut_told: list[str] = field(default_factory=list)
    # Acked in time, never done.
    opens_acked_lost: list[str] = field(default_factory=list)
    # Done more than ACK_DEADLINE_S after being sent.
    opens_late: list[str] = field(default_factory=list)
    opens_failed_yet_done: list[str] = field(default_factory=list)
    # Done in time though Slack saw the request fail, and the sender told it was done.
    done_told: list[str] = field(default_factory=list)
    rooms_missing: list[str] = field(default_factory=list)
    clicks_doubled: list[str] = field(default_factory=list)
    clicks_lost: list[str] = field(default_factory=list)
    clicks_acked_lost: list[str] = field(default_factory=list)
    clicks_late: list[str] = field(default_factory=list)
    clicks_cut: list[str] = field(default_factory=list)
    clicks_failed_yet_done: list[str] = field(default_factory=list)
    nudges: Nudges = field(default_factory=Nudges)

    @property
    def lost(self) -> int:
        return (
            len(self.opens_lost)
            + len(self.opens_acked_lost)
            + len(self.clicks_lost)
            + len(self.clicks_acked_lost)
            + len(self.nudges.lost)
        )

    @property
    def doubled(self) -> int:
        return len(self.opens_doubled) + len(self.clicks_doubled) + len(self.nudges.doubled)

    @property
    def late(self) -> int:
        return len(self.opens_late) + len(self.clicks_late) + len(self.nudges.late)

    def lines(self) -> list[str]:
        """The counts, with the ids behind every one that is not zero."""
        n = self.nudges
        rows = [
            f"lost {self.lost}, doubled {self.doubled}, late {self.late}",
            f"  incidents opened {self.opened}; doubled {_ids(self.opens_doubled)}; "
            f"lost {_ids(self.opens_lost)}; without a room {_ids(self.rooms_missing)}",
            f"  acked, never done: commands {_ids(self.opens_acked_lost)}, clicks "
            f"{_ids(self.clicks_acked_lost)}; done more than {ACK_DEADLINE_S:.0f} s after "
            f"sent: commands {_ids(self.opens_late)}, clicks {_ids(self.clicks_late)}",
            f"  commander clicks doubled {_ids(self.clicks_doubled)}; "
            f"lost {_ids(self.clicks_lost)}",
            f"  nudges due {n.due}, posted {n.posted} ({n.per_due:.2f} per due); "
            f"lost (none within {NUDGE_GRACE_S:.0f} s) {_ids(n.lost)}; doubled {_ids(n.doubled)}; "
            f"late {_ids(n.late)}",
            f"  not done (failed in flight, or refused: 'nothing was done'): commands "
            f"{_ids(self.opens_cut)}, clicks {_ids(self.clicks_cut)}; of those, the sender was "
            f"told nothing was done: {len(self.cut_told)}",
            f"  Slack saw fail, done in time all the same: commands "
            f"{_ids(self.opens_failed_yet_done)}, clicks {_ids(self.clicks_failed_yet_done)}; "
            f"of those, the sender was told it was done: {len(self.done_told)}",
        ]
        if n.lateness:
            worst = max(n.lateness)
            rows.append(f"  nudge lateness: worst {worst:.1f} s (late above {LATE_AFTER_S:.0f} s)")
        return rows


def _ids(items: list[str]) -> str:
    if not items:
        return "0"
    shown = ", ".join(items[:8])
    return f"{len(items)} ({shown}{', ...' if len(items) > 8 else ''})"


async def incidents(store: Store) -> list[Incident]:
    return [Incident.model_validate_json(r.body) for r in await store.list()]


def nudge_text(incident_id: str, level: int) -> str:
    return f"{incident_id}: escalate to level {level}"


def count_nudges(
    api: SlackApiStandIn, clock: CallClock, found: list[Incident], levels: dict[int, timedelta]
) -> Nudges:
    """Every level of every incident is due by now; each must have been posted once, on time."""
    posts: dict[str, list[float]] = {}
    for index, call in enumerate(api.calls):
        if call.method == "chat.postMessage" and ": escalate to level " in str(
            call.params.get("text", "")
        ):
            posts.setdefault(str(call.params["text"]), []).append(clock.at(index))
    nudges = Nudges()
    for incident in found:
        for level, after in levels.items():
            key = f"{incident.id}/L{level}"
            due = (incident.opened_at + after).timestamp()
            seen = posts.get(nudge_text(incident.id, level), [])
            nudges.due += 1
            nudges.posted += len(seen)
            if not seen:
                nudges.lost.append(key)
                continue
            if len(seen) > 1:
                nudges.doubled.append(key)
            lateness = min(seen) - due
            nudges.lateness.append(lateness)
            if lateness > LATE_AFTER_S:
                nudges.late.append(f"{key} +{lateness:.0f}s")
    return nudges


def all_nudged(api: SlackApiStandIn, found: list[Incident], levels: dict[int, timedelta]) -> bool:
    texts = {str(c.params.get("text", "")) for c in api.calls if c.method == "chat.postMessage"}
    return all(nudge_text(i.id, level) in texts for i in found for level in levels)


def last_due(found: list[Incident], levels: dict[int, timedelta]) -> float:
    latest = max((i.opened_at for i in found), default=None)
    if latest is None:
        return time.time()
    return (latest + max(levels.values())).timestamp()


def account(
    load: Load,
    api: SlackApiStandIn,
    clock: CallClock,
    found: list[Incident],
    levels: dict[int, timedelta],
) -> Ledger:
    """The ledger of a finished run."""
    ledger = Ledger(opened=len(found))
    by_tag = Counter(
        tag for incident in found for tag in [incident.summary.split()[-1]] if incident.summary
    )
    ids = {i.id for i in found}
    replies: dict[str, list[str]] = {}
    for call in api.calls:
        if call.method == "response_url":
            url = str(call.params.get("response_url"))
            replies.setdefault(url, []).append(str(call.params.get("text", "")))

    def told(sent: Sent, what: str) -> bool:
        return what in sent.answer or any(
            what in text for text in replies.get(sent.response_url, [])
        )

    def after(sent: Sent, done_at: float) -> float:
        return done_at - sent.sent_wall

    opened_at = {
        tag: i.opened_at.timestamp()
        for i in found
        for tag in [i.summary.split()[-1] if i.summary else ""]
    }
    for sent in by_kind(load.sent, "command"):
        count = by_tag.get(sent.subject, 0)
        if count > 1:
            ledger.opens_doubled.append(sent.subject)
        elif count == 0 and sent.acked and not told(sent, NOTHING_DONE):
            ledger.opens_acked_lost.append(sent.subject)
        elif count == 0:
            ledger.opens_cut.append(sent.subject)
            if told(sent, NOTHING_DONE):
                ledger.cut_told.append(sent.subject)
        elif after(sent, opened_at[sent.subject]) > ACK_DEADLINE_S:
            late = after(sent, opened_at[sent.subject])
            ledger.opens_late.append(f"{sent.subject} +{late:.0f}s")
        elif not sent.acked:
            ledger.opens_failed_yet_done.append(sent.subject)
            if told(sent, DONE_ANYWAY):
                ledger.done_told.append(sent.subject)
    # A headline Slack showed for an incident the store does not have.
    ledger.opens_lost = sorted(set(load.buttons) - ids)
    ledger.rooms_missing = [
        f"{i.id} [{i.summary}; links: {', '.join(sorted(i.links)) or 'none'}; "
        f"fired: {', '.join(i.timers.fired) or 'none'}]"
        for i in found
        if i.id not in load.buttons
    ]
    notes: Counter[str] = Counter(
        str(c.params.get("channel"))
        for c in api.calls
        if c.method == "chat.postMessage" and COMMANDER_NOTE in str(c.params.get("text", ""))
    )
    by_id = {i.id: i for i in found}
    for sent in by_kind(load.sent, "click"):
        incident = by_id.get(sent.subject)
        claimed = (
            [] if incident is None else [e for e in incident.timeline if e.event == "commander"]
        )
        confirmed = notes.get(load.buttons[sent.subject].channel, 0)
        if len(claimed) > 1 or confirmed > 1:
            ledger.clicks_doubled.append(sent.subject)
        elif confirmed and not claimed:
            ledger.clicks_lost.append(sent.subject)
        elif not claimed and sent.acked and not told(sent, NOTHING_DONE):
            ledger.clicks_acked_lost.append(sent.subject)
        elif not claimed:
            ledger.clicks_cut.append(sent.subject)
            if told(sent, NOTHING_DONE):
                ledger.cut_told.append(sent.subject)
        elif after(sent, claimed[0].at.timestamp()) > ACK_DEADLINE_S:
            late = after(sent, claimed[0].at.timestamp())
            ledger.clicks_late.append(f"{sent.subject} +{late:.0f}s")
        elif not sent.acked:
            ledger.clicks_failed_yet_done.append(sent.subject)
            if told(sent, DONE_ANYWAY):
                ledger.done_told.append(sent.subject)
    ledger.nudges = count_nudges(api, clock, found, levels)
    return ledger
