"""The rules that decide what a pod is doing, from its spec, its image and the cluster."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

Phase = Literal[
    "creating", "unschedulable", "pullfailed", "oomkilled", "crashing", "unready", "ready"
]

_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_FACTORS = {
    "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "m": 1,
}  # fmt: skip
_FIRST_BACKOFF, _MAX_BACKOFF, _RUN_SECONDS = 10.0, 300.0, 5.0


def memory_bytes(quantity: str | None) -> int | None:
    """Bytes of a memory quantity such as 512Mi or 1G; None when unset."""
    if quantity is None:
        return None
    match = _QUANTITY.match(str(quantity).strip())
    if not match or match.group(2) not in _FACTORS or match.group(2) == "m":
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return int(float(match.group(1)) * _FACTORS[match.group(2)])


def cpu_millis(quantity: str | None) -> int:
    """Millicores of a CPU quantity such as 250m or 2; 0 when unset."""
    if quantity is None:
        return 0
    text = str(quantity).strip()
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


@dataclass(frozen=True)
class PodState:
    """What a pod is doing now; `message` explains a pod that cannot run or get ready."""

    phase: Phase
    restarts: int = 0
    message: str = ""


def restarts_after(seconds: float) -> int:
    """Restarts of a crash-looping container after `seconds`, with kubelet's doubling back-off."""
    count, elapsed, delay = 1, _RUN_SECONDS, _FIRST_BACKOFF
    while elapsed + delay + _RUN_SECONDS <= seconds:
        elapsed += delay + _RUN_SECONDS
        delay = min(delay * 2, _MAX_BACKOFF)
        count += 1
    return count


def evaluate(
    container: dict[str, Any],
    *,
    image_memory: int,
    crash_log: list[str],
    down: list[str],
    pull_fails: bool = False,
    node_memory: int,
    node_count: int,
    age: float,
    ready_delay: float,
) -> PodState:
    """Apply the rules in order: scheduling, start-up, image pull, memory, crash, dependencies."""
    resources = container.get("resources") or {}
    requested = memory_bytes((resources.get("requests") or {}).get("memory"))
    limit = memory_bytes((resources.get("limits") or {}).get("memory"))
    if requested is None:
        requested = limit
    if requested is not None and requested > node_memory:
        message = f"0/{node_count} nodes are available: {node_count} Insufficient memory."
        return PodState("unschedulable", message=message)
    if age < ready_delay:
        return PodState("creating")
    if pull_fails:
        return PodState("pullfailed", message=container.get("image", ""))
    running = age - ready_delay
    if limit is not None and limit < image_memory:
        return PodState("oomkilled", restarts_after(running))
    if crash_log:
        return PodState("crashing", restarts_after(running))
    if down:
        return PodState("unready", message=", ".join(down))
    return PodState("ready")
