"""Docker's multiplexed stream framing, and `docker logs` selection of a container's lines."""

from __future__ import annotations

import struct
from collections.abc import Iterable

from bot.drills.docker.host import STDERR, STDOUT, LogLine
from bot.drills.docker.views import timestamp

MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"


def frame(stream: int, data: bytes) -> bytes:
    """One frame: [stream, 0, 0, 0, size (big-endian uint32)] then the payload."""
    return struct.pack(">BxxxL", stream, len(data)) + data


def frames(chunks: Iterable[tuple[int, str]]) -> bytes:
    return b"".join(frame(stream, text.encode()) for stream, text in chunks)


def _flag(query: dict[str, str], name: str) -> bool:
    return query.get(name, "0").lower() in ("1", "true")


def _seconds(value: str | None) -> float | None:
    """`since`/`until` as Unix seconds (the SDK sends integers; the CLI may send fractions)."""
    if value is None or value in ("", "0"):
        return None
    return float(value)


def select_logs(lines: list[LogLine], query: dict[str, str]) -> bytes:
    """The framed body of `GET /containers/{id}/logs` for the given query."""
    streams = {STDOUT} if _flag(query, "stdout") else set()
    if _flag(query, "stderr"):
        streams.add(STDERR)
    since, until = _seconds(query.get("since")), _seconds(query.get("until"))
    chosen = [
        line
        for line in lines
        if line.stream in streams
        and (since is None or line.at >= since)
        and (until is None or line.at <= until)
    ]
    tail = query.get("tail", "all")
    if tail != "all" and tail.lstrip("-").isdigit() and int(tail) >= 0:
        chosen = chosen[len(chosen) - int(tail) :] if int(tail) else []
    stamps = _flag(query, "timestamps")
    return frames(
        (line.stream, f"{timestamp(line.at)} {line.text}\n" if stamps else f"{line.text}\n")
        for line in chosen
    )
