"""A raise of a container's resources: never lower than now, as a floor or a factor of now."""

from __future__ import annotations

import math
from typing import Any

from bot.executors.kubernetes.failure import KubeError
from bot.executors.units import parse_quantity

Amounts = dict[str, dict[str, str]]
_BINARY = (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))


def quantity(resource: str, amount: float) -> str:
    """`amount` (cores, bytes) as Kubernetes writes it, rounded up: 750m, 2, 24Gi, 1536Mi."""
    if resource == "cpu":
        milli = math.ceil(round(amount * 1000, 6))
        return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"
    size = math.ceil(round(amount, 3))
    for suffix, unit in _BINARY:
        if size % unit == 0:
            return f"{size // unit}{suffix}"
    return f"{math.ceil(size / 2**20)}Mi" if size > 2**20 else str(size)


def raised(current: Any, floors: Amounts, factor_percent: int | None) -> Amounts:
    """The amounts to set: each `floor` above the current one, or `factor_percent` of it.

    Raises KubeError when nothing would go up, since a fix named "scale up" must not lower.
    """
    now: Amounts = {
        key: {r: str(v) for r, v in (current.get(key) or {}).items()}
        for key in ("requests", "limits")
        if isinstance(current, dict)
    }
    wanted: Amounts = {}
    kept: list[str] = []
    for key in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            have = now.get(key, {}).get(resource)
            have_amount = parse_quantity(have)
            floor = floors.get(key, {}).get(resource)
            if factor_percent is not None and have_amount:
                target = quantity(resource, have_amount * factor_percent / 100)
            elif floor is not None:
                target = floor
            else:
                continue
            target_amount = parse_quantity(target) or 0.0
            if have_amount is not None and target_amount <= have_amount:
                kept.append(f"{key}.{resource} is {have}, not below {target}")
                continue
            wanted.setdefault(key, {})[resource] = target
    if not wanted:
        raise KubeError(f"nothing to raise: {'; '.join(kept) or 'no requests or limits set'}")
    _limits_cover_requests(now, wanted)
    return wanted


def _limits_cover_requests(now: Amounts, wanted: Amounts) -> None:
    """A raised request above its limit is refused by the API server: say so before sending."""
    for resource in ("cpu", "memory"):
        request = wanted.get("requests", {}).get(resource) or now.get("requests", {}).get(resource)
        limit = wanted.get("limits", {}).get(resource) or now.get("limits", {}).get(resource)
        if request and limit and (parse_quantity(request) or 0) > (parse_quantity(limit) or 0):
            raise KubeError(
                f"requests.{resource} would be {request}, above limits.{resource} {limit}: "
                "raise the limit too"
            )
