"""Patch application: strategic merge (see strategic.py), JSON merge and JSON patch."""

from __future__ import annotations

import copy
from typing import Any

from bot.drills.strategic import StrategicError, strategic_merge

STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
CONTENT_TYPES = (STRATEGIC, MERGE, JSON_PATCH)


class PatchError(ValueError):
    """The patch is malformed or does not apply to the object."""


def apply_patch(target: dict[str, Any], patch: Any, content_type: str) -> dict[str, Any]:
    """Return a patched copy of target; the target itself is never changed."""
    kind = content_type.split(";")[0].strip()
    if kind == JSON_PATCH:
        if not isinstance(patch, list):
            raise PatchError("json patch must be a list of operations")
        return json_patch(target, patch)
    if not isinstance(patch, dict):
        raise PatchError("merge patch must be a JSON object")
    if kind == MERGE:
        return dict(merge_patch(target, patch))
    if kind == STRATEGIC:
        try:
            return dict(strategic_merge(target, patch))
        except StrategicError as exc:
            raise PatchError(str(exc)) from None
    raise PatchError(f"unsupported patch type {kind!r}")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: maps merge, null deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: dict[str, Any], operations: list[Any]) -> dict[str, Any]:
    """RFC 6902 add, replace, remove and test."""
    doc: Any = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError("each operation needs 'op' and 'path'")
        name = op["op"]
        if name not in ("add", "replace", "remove", "test"):
            raise PatchError(f"unsupported operation {name!r}")
        parent, key = _resolve(doc, str(op["path"]))
        if name == "test":
            if _get(parent, key) != op.get("value"):
                raise PatchError(f"test failed at {op['path']}")
        elif name == "remove":
            _get(parent, key)
            del parent[key]
        elif name == "replace":
            _get(parent, key)
            parent[key] = copy.deepcopy(op.get("value"))
        elif isinstance(parent, list):
            parent.insert(
                len(parent) if key == len(parent) else key, copy.deepcopy(op.get("value"))
            )
        else:
            parent[key] = copy.deepcopy(op.get("value"))
    return dict(doc)


def _resolve(doc: Any, path: str) -> tuple[Any, Any]:
    if not path.startswith("/"):
        raise PatchError(f"invalid path {path!r}")
    parts = [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]
    node = doc
    for part in parts[:-1]:
        node = _get(node, _key(node, part))
    return node, _key(node, parts[-1])


def _key(node: Any, part: str) -> Any:
    if isinstance(node, list):
        if part == "-":
            return len(node)
        if not part.isdigit() or int(part) > len(node):
            raise PatchError(f"invalid list index {part!r}")
        return int(part)
    if isinstance(node, dict):
        return part
    raise PatchError(f"cannot index into a scalar with {part!r}")


def _get(node: Any, key: Any) -> Any:
    try:
        return node[key]
    except (KeyError, IndexError, TypeError):
        raise PatchError(f"path element {key!r} does not exist") from None
