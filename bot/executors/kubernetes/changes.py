"""Before/after of an object as flat `path: value` lines, so a fix shows exactly what changes."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from bot.redact import redact, redact_value

# Template paths read better without their nesting: containers[api].image, annotations.x.
_SHORTER = (("template.spec.", ""), ("template.metadata.", ""))


def _shorten(path: str) -> str:
    for prefix, replacement in _SHORTER:
        if path.startswith(prefix):
            return replacement + path[len(prefix) :]
    return path


def _env_value(var: dict[str, Any]) -> str:
    name = str(var.get("name", ""))
    source = var.get("valueFrom")
    if isinstance(source, dict) and source:
        kind, ref = next(iter(source.items()))
        return f"<from {kind} {json.dumps(ref, sort_keys=True)}>"
    return redact_value(name, str(var.get("value", "")))


def flatten(value: Any, path: str = "") -> dict[str, str]:
    """Leaves of a JSON object by path; lists of named items are keyed by name."""
    if isinstance(value, dict):
        flat: dict[str, str] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{path}.{key}" if path else str(key)))
        return flat
    named = (
        isinstance(value, list)
        and value
        and all(isinstance(v, dict) and "name" in v for v in value)
    )
    if named and path.endswith("env"):
        return {f"{path}[{v['name']}]": _env_value(v) for v in value}
    if named:
        flat = {}
        for item in value:
            rest = {k: v for k, v in item.items() if k != "name"}
            flat.update(flatten(rest, f"{path}[{item['name']}]"))
        return flat
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return {path: redact_value(path.rsplit(".", 1)[-1], text)}


@dataclass(frozen=True)
class Change:
    """What differs between two versions of (part of) an object."""

    before: dict[str, str]
    after: dict[str, str]

    @property
    def changed(self) -> list[str]:
        return sorted(
            k for k in {*self.before, *self.after} if self.before.get(k) != self.after.get(k)
        )

    def side(self, which: dict[str, str]) -> str:
        lines = (
            f"{_shorten(k)}: {which.get(k, '<none>')}" if k else which[k] for k in self.changed
        )
        return redact("\n".join(lines))

    def gist(self, limit: int = 3) -> str:
        """'replicas 3 -> 5', the first few changed fields."""
        parts = [
            f"{_shorten(k)} {self.before.get(k, '<none>')} -> {self.after.get(k, '<none>')}"
            for k in self.changed[:limit]
        ]
        if len(self.changed) > limit:
            parts.append(f"and {len(self.changed) - limit} more field(s)")
        return redact(", ".join(parts) or "no change")

    def diff(self, name: str) -> str:
        """Unified diff of the whole flattened object, changed lines in context."""
        lines = [
            [f"{_shorten(k)}: {side[k]}" if k else side[k] for k in sorted(side)]
            for side in (self.before, self.after)
        ]
        text = difflib.unified_diff(
            lines[0],
            lines[1],
            fromfile=f"{name} (live)",
            tofile=f"{name} (after)",
            lineterm="",
            n=2,
        )
        return redact("\n".join(text))


def change_between(before: Any, after: Any, *scope: str) -> Change:
    """The Change of the subtree at `scope` (e.g. "spec") between two objects."""
    for key in scope:
        before = before.get(key) if isinstance(before, dict) else None
        after = after.get(key) if isinstance(after, dict) else None
    return Change(flatten(before or {}), flatten(after or {}))
