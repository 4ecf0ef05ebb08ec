"""Kubernetes resource quantities (250m, 1.5Gi, 12345678n) as numbers."""

from __future__ import annotations

import re

_QUANTITY = re.compile(r"^\s*([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*$")
_SUFFIX = {
    "": 1.0,
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}
MI = 2.0**20


def parse_quantity(value: object) -> float | None:
    """The quantity in base units (cores, bytes); None if it is not a quantity."""
    if isinstance(value, int | float):
        return float(value)
    match = _QUANTITY.match(str(value))
    if not match or match[2] not in _SUFFIX:
        return None
    try:
        return float(match[1]) * _SUFFIX[match[2]]
    except ValueError:
        return None


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
