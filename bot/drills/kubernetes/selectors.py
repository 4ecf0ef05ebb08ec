"""Label and field selectors as the API server's list calls accept them."""

from __future__ import annotations

import re
from typing import Any

from bot.drills.kubernetes.objects import Obj

_TERM = re.compile(r"^\s*(!?)([A-Za-z0-9_./-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9_.-]*))?\s*$")
_SET = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _terms(selector: str) -> list[str]:
    """Split on commas that are not inside a set's parentheses."""
    terms, depth, current = [], 0, ""
    for char in selector:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    return [t for t in [*terms, current] if t.strip()]


def _term_matches(labels: dict[str, str], term: str) -> bool:
    if found := _SET.match(term):
        key, op, values = found.groups()
        inside = labels.get(key) in {v.strip() for v in values.split(",")}
        return inside if op == "in" else not inside
    found = _TERM.match(term)
    if not found:
        raise ValueError(f"unable to parse requirement: {term!r}")
    negate, key, op, value = found.groups()
    if op is None:
        return (key in labels) != bool(negate)
    equal = labels.get(key) == value
    return equal if op in ("=", "==") else not equal


def matches_labels(obj: Obj, selector: str) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(_term_matches(labels, term) for term in _terms(selector))


def _field(obj: Any, path: str) -> str:
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return "" if obj is None else str(obj)


def matches_fields(obj: Obj, selector: str) -> bool:
    """Field selectors are exact (in)equalities on dotted paths, e.g. involvedObject.name=X."""
    for term in _terms(selector):
        found = _TERM.match(term)
        if not found or found.group(3) is None:
            raise ValueError(f"invalid field selector: {term!r}")
        _, key, op, value = found.groups()
        if (_field(obj, key) == value) != (op in ("=", "==")):
            return False
    return True
