"""Text in kubectl's shapes: aligned columns, ages, describe-style pod and node detail."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.executors.common import dig
from bot.redact import redact

Obj = dict[str, Any]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns aligned like `kubectl get`; the last column is not padded."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def parse_time(stamp: object) -> datetime | None:
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None


def minutes_since(stamp: object, now: datetime | None = None) -> int | None:
    when = parse_time(stamp)
    if when is None:
        return None
    return max(0, int(((now or datetime.now(UTC)) - when).total_seconds() // 60))


def age(stamp: object) -> str:
    """'42s', '5m', '3h', '2d' like kubectl's AGE column; '<unknown>' without a time."""
    when = parse_time(stamp)
    if when is None:
        return "<unknown>"
    seconds = max(0, int((datetime.now(UTC) - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def event_time(event: Obj) -> str:
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or dig(event, "series", "lastObservedTime")
        or dig(event, "metadata", "creationTimestamp")
        or ""
    )


def event_rows(events: Sequence[Obj]) -> list[list[str]]:
    return [
        [
            age(event_time(e)),
            str(e.get("type") or ""),
            str(e.get("reason") or ""),
            redact(" ".join(str(e.get("message") or "").split())),
        ]
        for e in events
    ]


def _state_lines(label: str, state: Obj | None) -> list[str]:
    if not state:
        return []
    kind, detail = next(iter(state.items()))
    lines = [f"    {label + ':':<16}{kind.capitalize()}"]
    detail = detail if isinstance(detail, dict) else {}
    for key, title in (
        ("reason", "Reason"),
        ("message", "Message"),
        ("exitCode", "Exit Code"),
        ("startedAt", "Started"),
        ("finishedAt", "Finished"),
    ):
        if detail.get(key) not in (None, ""):
            value = " ".join(str(detail[key]).split())
            lines.append(f"      {title + ':':<14}{value}")
    return lines


def _resource_lines(resources: Obj | None) -> list[str]:
    lines: list[str] = []
    for key, title in (("limits", "Limits"), ("requests", "Requests")):
        amounts = dig(resources, key) or {}
        if amounts:
            lines.append(f"    {title}:")
            lines.extend(f"      {name}:  {value}" for name, value in sorted(amounts.items()))
    return lines


def describe_pod(pod: Obj, events: Sequence[Obj]) -> str:
    """`kubectl describe pod` in short: containers, state, last state, resources, events."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    statuses = {c.get("name"): c for c in status.get("containerStatuses") or []}
    lines = [
        f"Name:         {meta.get('name', '')}",
        f"Namespace:    {meta.get('namespace', '')}",
        f"Node:         {spec.get('nodeName') or '<none>'}",
        f"Start Time:   {status.get('startTime') or '<none>'}",
        f"Status:       {status.get('phase') or 'Unknown'}",
    ]
    if status.get("reason") or status.get("message"):
        lines.append(
            f"Reason:       {status.get('reason', '')} {status.get('message', '')}".rstrip()
        )
    lines.append("Containers:")
    for container in spec.get("containers") or []:
        name = container.get("name", "")
        cs = statuses.get(name) or {}
        lines.append(f"  {name}:")
        lines.append(f"    {'Image:':<16}{container.get('image', '')}")
        lines.extend(_state_lines("State", cs.get("state")))
        lines.extend(_state_lines("Last State", cs.get("lastState")))
        lines.append(f"    {'Ready:':<16}{cs.get('ready', False)}")
        lines.append(f"    {'Restart Count:':<16}{cs.get('restartCount', 0)}")
        lines.extend(_resource_lines(container.get("resources")))
    conditions = status.get("conditions") or []
    if conditions:
        lines.append("Conditions:")
        rows = [[c.get("type", ""), c.get("status", ""), c.get("reason", "")] for c in conditions]
        lines.extend("  " + line for line in table(["Type", "Status", "Reason"], rows).splitlines())
    lines.append("Events:" if events else "Events:  <none>")
    if events:
        rows = event_rows(events)
        table_text = table(["Age", "Type", "Reason", "Message"], rows)
        lines.extend("  " + line for line in table_text.splitlines())
    return redact("\n".join(lines))


def describe_node(node: Obj) -> str:
    """`kubectl describe node` in short: roles, conditions, taints, capacity, allocatable."""
    meta, spec, status = (node.get(k) or {} for k in ("metadata", "spec", "status"))
    labels = meta.get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    taints = [
        f"{t.get('key')}={t.get('value', '')}:{t.get('effect')}" for t in spec.get("taints") or []
    ]
    lines = [
        f"Name:           {meta.get('name', '')}",
        f"Roles:          {','.join(roles) or '<none>'}",
        f"Unschedulable:  {bool(spec.get('unschedulable'))}",
        f"Taints:         {', '.join(taints) or '<none>'}",
        "Conditions:",
    ]
    rows = [
        [c.get("type", ""), c.get("status", ""), c.get("reason", ""), c.get("message", "")]
        for c in status.get("conditions") or []
    ]
    lines.extend(
        "  " + line for line in table(["Type", "Status", "Reason", "Message"], rows).splitlines()
    )
    for key, title in (("capacity", "Capacity"), ("allocatable", "Allocatable")):
        lines.append(f"{title}:")
        lines.extend(f"  {k}:  {v}" for k, v in sorted((status.get(key) or {}).items()))
    info = status.get("nodeInfo") or {}
    if info:
        lines.append(f"Kubelet Version:  {info.get('kubeletVersion', '')}")
    return redact("\n".join(lines))
