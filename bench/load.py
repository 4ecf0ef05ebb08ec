"""The scale benchmark's driver: signed slash commands and clicks at a steady rate, as Slack sends.

Each `/incident api-down` carries a tag of its own in its summary, so the incidents it opened can
be counted afterwards. Once an incident's headline is posted, its claim-commander button is
clicked, once. Requests go out on a fixed schedule whether or not earlier ones were answered:
a slow or dead replica does not slow the offered load down, as it would not slow Slack down.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.ack_latency import CHANNEL, COMMANDER, SECRET, USER
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_signing import (
    FORM_CONTENT_TYPE,
    block_action_body,
    sign,
    slash_command_body,
)

# Slack's own deadline for an ack; an answer later than this is a failed request to Slack.
ACK_DEADLINE_S = 3.0


@dataclass
class Sent:
    """One request: what it was, when it left, and how (and how fast) it was answered."""

    kind: str  # "command" or "click"
    subject: str  # the command's tag, or the clicked incident's id
    sent_at: float
    latency: float | None = None
    status: int | None = None
    error: str = ""
    response_url: str = ""  # where the bot tells the sender what became of it
    answer: str = ""  # the ack's body: a slash command's is shown to its sender
    # Wall clock when it left, to compare with the times the store records.
    sent_wall: float = field(default_factory=time.time)

    @property
    def acked(self) -> bool:
        return self.status == 200 and self.latency is not None and self.latency < ACK_DEADLINE_S


@dataclass
class Button:
    incident: str
    channel: str
    ts: str
    value: str


class CallClock:
    """When each Web API call reached the stand-in: its calls carry no time, so this stamps
    them as they appear (every 50 ms)."""

    def __init__(self, api: SlackApiStandIn) -> None:
        self.api = api
        self.stamps: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def at(self, index: int) -> float:
        return self.stamps[index]

    def catch_up(self) -> None:
        now = time.time()
        self.stamps += [now] * (len(self.api.calls) - len(self.stamps))

    async def _run(self) -> None:
        while True:
            self.catch_up()
            await asyncio.sleep(0.05)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.catch_up()


def headline_buttons(api: SlackApiStandIn, start: int) -> tuple[list[Button], int]:
    """Claim-commander buttons of headlines posted since call `start`; and where to look next."""
    found: list[Button] = []
    calls = api.calls[start:]
    for call in calls:
        if call.method != "chat.postMessage":
            continue
        message = call.response.get("message") or {}
        for block in message.get("blocks") or []:
            for element in [*(block.get("elements") or []), block.get("accessory") or {}]:
                if element.get("action_id") == COMMANDER:
                    value = element["value"]
                    incident = json.loads(value)["i"]
                    channel, ts = call.response["channel"], call.response["ts"]
                    found.append(Button(incident, channel, ts, value))
    return found, start + len(calls)


@dataclass
class Load:
    """Everything the driver sent, and the buttons it found."""

    run: str
    sent: list[Sent] = field(default_factory=list)
    buttons: dict[str, Button] = field(default_factory=dict)

    def tag(self, index: int) -> str:
        return f"{self.run}-{index:04d}"


async def post(session: aiohttp.ClientSession, url: str, body: bytes, record: Sent) -> None:
    headers = {**sign(body, SECRET), "Content-Type": FORM_CONTENT_TYPE}
    try:
        async with session.post(url, data=body, headers=headers) as response:
            record.answer = (await response.read()).decode(errors="replace")
            record.status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        record.error = type(exc).__name__
    record.latency = time.perf_counter() - record.sent_at


def command(api: SlackApiStandIn, service: str, tag: str, response_url: str) -> bytes:
    return slash_command_body(
        response_url=response_url,
        text=f"api-down {service} {tag}",
        user_id=USER,
        channel_id=CHANNEL,
    )


def click(api: SlackApiStandIn, button: Button, response_url: str) -> bytes:
    return block_action_body(
        action_id=COMMANDER,
        value=button.value,
        response_url=response_url,
        user_id=USER,
        channel_id=button.channel,
        message_ts=button.ts,
    )


async def drive(
    session: aiohttp.ClientSession,
    url: str,
    api: SlackApiStandIn,
    service: str,
    load: Load,
    incidents: int,
    rate: float,
    settle_s: float = 30.0,
) -> None:
    """Opens `incidents` at `rate` a second and clicks each headline once, at the same rate;
    returns when every request is answered and no headline is left unclicked for `settle_s`."""
    in_flight: set[asyncio.Task[None]] = set()
    interval = 1.0 / rate
    scanned = len(api.calls)
    pending: list[Button] = []
    clicked: set[str] = set()

    def send(kind: str, subject: str, body: bytes, response_url: str = "") -> None:
        record = Sent(kind, subject, time.perf_counter(), response_url=response_url)
        load.sent.append(record)
        task = asyncio.create_task(post(session, url, body, record))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)

    start = time.perf_counter()
    opened = 0
    tick = 0
    idle_since = time.perf_counter()
    while True:
        found, scanned = headline_buttons(api, scanned)
        for button in found:
            load.buttons.setdefault(button.incident, button)
            if button.incident not in clicked:
                clicked.add(button.incident)
                pending.append(button)
        if opened < incidents:
            tag, response_url = load.tag(opened), api.response_url(CHANNEL)
            send("command", tag, command(api, service, tag, response_url), response_url)
            opened += 1
        if pending:
            button = pending.pop(0)
            response_url = api.response_url(button.channel)
            send("click", button.incident, click(api, button, response_url), response_url)
            idle_since = time.perf_counter()
        elif opened >= incidents and (
            len(clicked) >= incidents or time.perf_counter() - idle_since > settle_s
        ):
            break
        tick += 1
        await asyncio.sleep(max(0.0, start + tick * interval - time.perf_counter()))
    await asyncio.gather(*in_flight)


def by_kind(sent: list[Sent], kind: str) -> list[Sent]:
    return [s for s in sent if s.kind == kind]


def latencies(sent: list[Sent]) -> list[float]:
    return [s.latency for s in sent if s.acked and s.latency is not None]


def summary_of(sent: list[Sent]) -> dict[str, Any]:
    """Counts of what was answered in time, late, with an error status, or not at all."""
    return {
        "sent": len(sent),
        "acked": sum(s.acked for s in sent),
        "slow": sum(s.status == 200 and not s.acked for s in sent),
        "refused": sum(s.status is not None and s.status != 200 for s in sent),
        "unanswered": sum(s.status is None for s in sent),
    }
