"""Plain-text tables and durations for Postgres results."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.redact import redact

QUERY_CHARS = 200


def duration(seconds: float) -> str:
    """`3h 12m`, `5m 3s`, `12s`: as a person reads an age, not a timestamp."""
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def query_text(query: str | None) -> str:
    """A query on one line, cut to QUERY_CHARS, with credential-looking values masked."""
    flat = re.sub(r"\s+", " ", query or "").strip()
    if len(flat) > QUERY_CHARS:
        flat = flat[: QUERY_CHARS - 3] + "..."
    return redact(flat)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns as `psql` prints them, without the frame."""
    cells = [[str(c) for c in header], *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)
