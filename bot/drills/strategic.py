"""Strategic merge patch as kube-apiserver applies it (apimachinery's strategicpatch).

Only the lists the API's schema marks `patchStrategy: merge` merge item by item, matched by their
merge key; every other list is replaced. A merged list puts the patch's items in the patch's
order, each server-only item kept before the first patch item that came after it on the server,
and items new to the server before the remaining server-only ones, unless the patch carries
`$setElementOrder/<field>`, whose order then rules. `$patch: delete|replace` and
`$deleteFromPrimitiveList/<field>` are honoured; `$retainKeys` keeps only the keys it lists.
"""

from __future__ import annotations

import copy
from typing import Any

_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVES = "$deleteFromPrimitiveList/"
_DIRECTIVE = "$patch"
_RETAIN = "$retainKeys"
# Field name -> merge key, from the core/v1, apps/v1 and meta/v1 types' patch tags.
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
    "conditions": "type",
    "hostAliases": "ip",
}
# Lists of scalars with the merge strategy: merged as sets, kept in order.
_MERGED_SCALARS = {"finalizers"}
_CONTAINER_LISTS = {"containers", "initContainers", "ephemeralContainers"}


class StrategicError(ValueError):
    """The patch uses a directive wrongly (an item without its merge key, an unknown $patch)."""


def merge_key(path: tuple[str, ...]) -> str | None:
    """The merge key of the list at `path` (field names from the root), None if it is replaced."""
    field = path[-1]
    if field == "ports":
        # A container's ports merge by containerPort, a Service's by port.
        return "containerPort" if len(path) > 1 and path[-2] in _CONTAINER_LISTS else "port"
    return _MERGE_KEYS.get(field)


def strategic_merge(target: Any, patch: Any, path: tuple[str, ...] = ()) -> Any:
    """A patched copy of `target`; neither argument is changed."""
    if not isinstance(patch, dict):
        return _plain(patch)
    patch = dict(patch)
    directive = patch.pop(_DIRECTIVE, None)
    if directive == "replace":
        return _plain(patch)
    if directive == "delete":
        return {}
    if directive is not None:
        raise StrategicError(f"unknown $patch directive {directive!r}")
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.pop(_RETAIN, None)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    orders = {k[len(_ORDER) :]: v for k, v in patch.items() if k.startswith(_ORDER)}
    for key, value in patch.items():
        if key.startswith(_ORDER):
            continue
        if key.startswith(_DELETE_PRIMITIVES):
            field = key[len(_DELETE_PRIMITIVES) :]
            if isinstance(result.get(field), list) and isinstance(value, list):
                result[field] = [v for v in result[field] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _merge_list(result[key], value, (*path, key))
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = strategic_merge(result[key], value, (*path, key))
        else:
            result[key] = _plain(value)
    for field, order in orders.items():
        if isinstance(result.get(field), list) and isinstance(order, list):
            original = target.get(field) if isinstance(target, dict) else None
            key = merge_key((*path, field))
            result[field] = _ordered(result[field], order, original or [], key)
    return result


def _merge_list(original: list[Any], patch: list[Any], path: tuple[str, ...]) -> list[Any]:
    key = merge_key(path)
    if key is None and path[-1] not in _MERGED_SCALARS:
        return [_plain(v) for v in patch]
    if key is None:
        merged = list(original)
        merged += [v for v in patch if v not in merged]
        return _ordered(merged, patch, original, None)
    items = [copy.deepcopy(v) for v in original]
    rest = []
    for item in patch:
        if not isinstance(item, dict):
            raise StrategicError(f"{'.'.join(path)}: a list item must be an object")
        directive = item.get(_DIRECTIVE)
        if directive == "replace":
            return [_plain(v) for v in patch if _DIRECTIVE not in v]
        if directive == "delete":
            items = [v for v in items if v.get(key) != item.get(key)]
        elif directive is not None:
            raise StrategicError(f"unknown $patch directive {directive!r}")
        elif key not in item:
            raise StrategicError(f"{'.'.join(path)}: an item without its merge key {key!r}")
        else:
            rest.append(item)
    for item in rest:
        at = next((i for i, v in enumerate(items) if v.get(key) == item[key]), None)
        if at is None:
            items.append(_plain(item))
        else:
            items[at] = strategic_merge(items[at], item, path)
    return _ordered(items, rest, original, key)


def _ordered(merged: list[Any], order: list[Any], server: list[Any], key: str | None) -> list[Any]:
    """`merged` with the items named in `order` in that order, interleaved with the server-only
    items by their place on the server (apimachinery's normalizeElementOrder)."""

    def value(item: Any) -> Any:
        return item.get(key) if key is not None and isinstance(item, dict) else item

    def index(items: list[Any], item: Any) -> int:
        wanted = value(item)
        return next((i for i, v in enumerate(items) if value(v) == wanted), -1)

    named = [v for v in merged if index(order, v) >= 0]
    server_only = [v for v in merged if index(order, v) < 0]
    named.sort(key=lambda v: index(order, v))
    server_only.sort(key=lambda v: index(server, v))
    result: list[Any] = []
    while named or server_only:
        if not named or (
            server_only
            and 0 <= index(server, server_only[0]) < index(server, named[0])
            and index(server, named[0]) >= 0
        ):
            result.append(server_only.pop(0))
        else:
            result.append(named.pop(0))
    return result


def _plain(value: Any) -> Any:
    """A value taken whole from the patch, its directives dropped (apimachinery's
    removeDirectives): an object carrying `$patch` is left out."""
    if isinstance(value, dict):
        return {
            k: _plain(v)
            for k, v in value.items()
            if not (isinstance(v, dict) and _DIRECTIVE in v) and not k.startswith("$")
        }
    if isinstance(value, list):
        return [_plain(v) for v in value if not (isinstance(v, dict) and _DIRECTIVE in v)]
    return copy.deepcopy(value)
