"""Durations as playbooks write them: 30s, 5m, 1h30m, 24h, 1w."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

_PART = re.compile(r"(\d+)([smhdw])")
_WHOLE = re.compile(r"^(\d+[smhdw])+$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    text = str(value).strip().replace(" ", "") if isinstance(value, str) else None
    if not text or not _WHOLE.match(text):
        raise ValueError(f"not a duration: {value!r} (write e.g. 30s, 5m, 1h30m, 24h, 1w)")
    return timedelta(seconds=sum(int(n) * _SECONDS[u] for n, u in _PART.findall(text)))


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling: 900s -> 15m, 5400s -> 1h30m."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit in ("w", "d", "h", "m", "s"):
        count, seconds = divmod(seconds, _SECONDS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def humanize(value: timedelta) -> str:
    """For people: '12 min', '1 h 5 min', '40 s'."""
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]
