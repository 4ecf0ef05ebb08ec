"""Memory of a bot process: idle after start-up, after one incident, and with 50 open incidents.

Starts the real `runbook-bot serve` in its own process, as bench/ack_latency.py does (the Slack
Web API stand-in and the sandbox cluster live in this process), so what is measured is what is
deployed: engine, scheduler, integrations and the Bolt app, wired by `serve` itself. It reads
VmRSS and VmHWM (peak) from /proc/PID/status once the bot is idle, then opens incidents with
signed `/incident api-down` slash commands to /slack/events, and reads them again after each
batch has settled (every incident posted, Slack calls stopped). The baseline is the idle figure
of the same run. The first incident also pays for what the bot loads on first use, so the
growth per incident is shown both against idle and against the one-incident figure.

    .venv/bin/python bench/memory.py [--incidents 50] [--concurrency 10] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.ack_latency import (
    COMMANDER,
    commands,
    measure,
    product_command,
    server_env,
    server_process,
    settle,
)
from bench.table import Figure, add_json_option, write_figures
from bot.drills.kubernetes import Sandbox
from tests.support.slack_api import SlackApiStandIn

BENCHMARK = "memory"
KIB_PER_MIB = 1024


@dataclass(frozen=True)
class Memory:
    """A process's resident set now and at its peak, in KiB, as the kernel reports them."""

    rss_kib: int
    hwm_kib: int


def parse_status(text: str) -> Memory:
    """VmRSS and VmHWM from the text of /proc/PID/status; ValueError when either is missing."""
    fields: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            parts = rest.split()
            if len(parts) != 2 or parts[1] != "kB" or not parts[0].isdigit():
                raise ValueError(f"unexpected {name} line: {line.strip()!r}")
            fields[name] = int(parts[0])
    missing = {"VmRSS", "VmHWM"} - fields.keys()
    if missing:
        raise ValueError(f"no {' or '.join(sorted(missing))} in the status (a kernel thread?)")
    return Memory(rss_kib=fields["VmRSS"], hwm_kib=fields["VmHWM"])


def process_memory(pid: int) -> Memory:
    """The process's memory; ProcessLookupError with a one-line reason when it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProcessLookupError(f"no process {pid}") from None
    return parse_status(text)


def opened_incidents(api: SlackApiStandIn) -> set[str]:
    """Ids of the incidents whose headline (with its claim-commander button) was posted."""
    found: set[str] = set()
    for call in api.calls_to("chat.postMessage"):
        for block in call.response.get("message", {}).get("blocks") or []:
            for element in [*(block.get("elements") or []), block.get("accessory") or {}]:
                if element.get("action_id") == COMMANDER:
                    found.add(json.loads(element["value"])["i"])
    return found


async def open_incidents(
    session: aiohttp.ClientSession, url: str, api: SlackApiStandIn, service: str,
    count: int, concurrency: int,
) -> None:  # fmt: skip
    """Opens `count` more incidents and waits until all of them are posted and Slack is quiet."""
    wanted = len(opened_incidents(api)) + count
    await measure(session, url, commands(api, service, count), concurrency)
    for _ in range(1200):  # bounds a hang on a loaded box
        if len(opened_incidents(api)) >= wanted:
            break
        await asyncio.sleep(0.1)
    else:
        sys.exit(f"only {len(opened_incidents(api))} of {wanted} incidents were posted")
    await settle(api)


def mib(kib: float) -> float:
    return kib / KIB_PER_MIB


async def main(incidents: int, concurrency: int) -> list[Figure]:
    print(f"memory of `runbook-bot serve`: idle, after 1 incident, with {incidents} open")
    with tempfile.TemporaryDirectory() as tmp, Sandbox.start(ready_delay=0.0) as sandbox:
        folder = Path(tmp)
        service = sandbox.service_name
        async with SlackApiStandIn() as api, aiohttp.ClientSession() as session:
            env = server_env(api, sandbox, folder)
            async with server_process(product_command(None), env, folder, session) as running:
                url, process = running
                await settle(api)
                idle = process_memory(process.pid)
                await open_incidents(session, url, api, service, 1, 1)
                one = process_memory(process.pid)
                await open_incidents(session, url, api, service, incidents - 1, concurrency)
                full = process_memory(process.pid)
    per_incident = (full.rss_kib - idle.rss_kib) / incidents
    after_first = (full.rss_kib - one.rss_kib) / max(1, incidents - 1)
    for name, memory in (("idle", idle), ("1 incident", one), (f"{incidents} open", full)):
        rss, hwm = mib(memory.rss_kib), mib(memory.hwm_kib)
        print(f"  {name:<12} VmRSS {rss:7.1f} MiB   VmHWM {hwm:7.1f} MiB")
    print(f"  per incident: {per_incident:.0f} KiB against idle, {after_first:.0f} KiB after one")
    return [
        Figure(BENCHMARK, "RSS idle", mib(idle.rss_kib), "MiB"),
        Figure(
            BENCHMARK,
            f"RSS with {incidents} open incidents",
            mib(full.rss_kib),
            "MiB",
            baseline=mib(idle.rss_kib),
        ),
        Figure(BENCHMARK, f"peak RSS (VmHWM), {incidents} open", mib(full.hwm_kib), "MiB"),
        Figure(BENCHMARK, "RSS per open incident (vs idle)", per_incident, "KiB"),
        Figure(BENCHMARK, "RSS per incident after the first", after_first, "KiB"),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=10, help="commands in flight at once")
    add_json_option(parser)
    args = parser.parse_args()
    if args.incidents < 2:
        sys.exit("--incidents must be at least 2 (one alone, then the rest)")
    write_figures(args.json, asyncio.run(main(args.incidents, args.concurrency)))
