"""Resource quantities (250m, 1.5Gi, 12345678n) as numbers, for Kubernetes and Docker alike."""

from __future__ import annotations

import math

from kubernetes.utils import parse_quantity as kubernetes_quantity

MI = 2.0**20


def parse_quantity(value: object) -> float | None:
    """The quantity in base units (cores, bytes); None if it is not a quantity."""
    if value is None:
        return None
    try:
        number = float(kubernetes_quantity(value))  # type: ignore[no-untyped-call]
    except (ValueError, TypeError, ArithmeticError):
        return None
    # The library reads "inf" as a number; no resource is infinite.
    return number if math.isfinite(number) else None


def millicores(value: object) -> float | None:
    """CPU quantity in millicores."""
    cores = parse_quantity(value)
    return None if cores is None else cores * 1000


def mebibytes(value: object) -> float | None:
    """Memory quantity in MiB."""
    size = parse_quantity(value)
    return None if size is None else size / MI


def percent(used: float | None, total: float | None) -> int | None:
    """used/total as a whole percentage, None when either is unknown or total is zero."""
    if used is None or not total:
        return None
    return round(used * 100 / total)
