"""Server-side printing: lists and objects as the `Table` kubectl asks for, as the real server.

kubectl's `get` asks for `application/json;as=Table;...` and prints the server's columns; only the
server knows them (a plain list prints as NAME and AGE). The rows follow kube-apiserver's printers
(pkg/printers/internalversion) for the kinds the drill's scenarios show; other kinds are answered
as plain JSON.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from typing import Any

from bot.drills.kubernetes.objects import Obj

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
Cells = list[Any]
# (name, type, format, priority): priority-1 columns show only with `-o wide`.
Column = tuple[str, str, str, int]

_POD_COLUMNS: list[Column] = [
    ("Name", "string", "name", 0),
    ("Ready", "string", "", 0),
    ("Status", "string", "", 0),
    ("Restarts", "string", "", 0),
    ("Age", "string", "", 0),
    ("IP", "string", "", 1),
    ("Node", "string", "", 1),
    ("Nominated Node", "string", "", 1),
    ("Readiness Gates", "string", "", 1),
]
_EVENT_COLUMNS: list[Column] = [
    ("Last Seen", "string", "", 0),
    ("Type", "string", "", 0),
    ("Reason", "string", "", 0),
    ("Object", "string", "", 0),
    ("Subobject", "string", "", 1),
    ("Source", "string", "", 1),
    ("Message", "string", "", 0),
    ("First Seen", "string", "", 1),
    ("Count", "string", "", 1),
    ("Name", "string", "", 1),
]
_DEPLOYMENT_COLUMNS: list[Column] = [
    ("Name", "string", "name", 0),
    ("Ready", "string", "", 0),
    ("Up-to-date", "string", "", 0),
    ("Available", "string", "", 0),
    ("Age", "string", "", 0),
    ("Containers", "string", "", 1),
    ("Images", "string", "", 1),
    ("Selector", "string", "", 1),
]
_REPLICASET_COLUMNS: list[Column] = [
    ("Name", "string", "name", 0),
    ("Desired", "integer", "", 0),
    ("Current", "integer", "", 0),
    ("Ready", "integer", "", 0),
    ("Age", "string", "", 0),
    ("Containers", "string", "", 1),
    ("Images", "string", "", 1),
    ("Selector", "string", "", 1),
]


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def _seconds(stamp: str | None) -> float | None:
    if not stamp:
        return None
    return float(calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")))


def human_duration(seconds: float) -> str:
    """apimachinery's duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes, hours = s // 60, s // 3600
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years, days = hours // (24 * 365), (hours // 24) % 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // (24 * 365)}y"


def _since(stamp: str | None, now: float) -> str:
    at = _seconds(stamp)
    return "<unknown>" if at is None else human_duration(now - at)


def _pod(pod: Obj, now: float) -> Cells:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    phase = status.get("phase", "")
    reason = status.get("reason") or phase
    restarts, ready, last_restart = 0, 0, None
    has_running, error_reason = False, ""
    for container in reversed(status.get("containerStatuses") or []):
        restarts += int(container.get("restartCount", 0))
        finished = ((container.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        at = _seconds(finished)
        if at is not None and (last_restart is None or at > last_restart):
            last_restart = at
        state = container.get("state") or {}
        waiting, terminated = state.get("waiting") or {}, state.get("terminated")
        if waiting.get("reason"):
            reason = waiting["reason"]
        elif terminated is not None:
            code = int(terminated.get("exitCode", 0))
            signal = int(terminated.get("signal", 0))
            fallback = f"Signal:{signal}" if signal else f"ExitCode:{code}"
            reason = terminated.get("reason") or fallback
            if code != 0:
                error_reason = reason
        elif container.get("ready") and "running" in state:
            has_running = True
            ready += 1
    if reason == "Completed":
        ready_condition = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
        if has_running and ready_condition:
            reason = "Running"
        elif error_reason:
            reason = error_reason
        elif has_running:
            reason = "NotReady"
    if pod["metadata"].get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    shown = str(restarts)
    if restarts and last_restart is not None:
        shown = f"{restarts} ({human_duration(now - last_restart)} ago)"
    ips = status.get("podIPs") or []
    return [
        pod["metadata"]["name"],
        f"{ready}/{len(spec.get('containers') or [])}",
        reason,
        shown,
        _since(pod["metadata"].get("creationTimestamp"), now),
        ips[0]["ip"] if ips else "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        "<none>",
    ]


def _event(event: Obj, now: float) -> Cells:
    first = _since(event.get("firstTimestamp") or event.get("eventTime"), now)
    last = _since(event["lastTimestamp"], now) if event.get("lastTimestamp") else first
    involved = event.get("involvedObject") or {}
    kind = str(involved.get("kind", "")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = event.get("source") or {}
    component = source.get("component") or event.get("reportingComponent") or ""
    instance = source.get("host") or event.get("reportingInstance") or ""
    return [
        last,
        event.get("type", ""),
        event.get("reason", ""),
        target,
        involved.get("fieldPath", ""),
        f"{component}, {instance}" if instance else component,
        str(event.get("message", "")).strip(),
        first,
        int(event.get("count") or 1),
        event["metadata"]["name"],
    ]


def _workload(obj: Obj) -> tuple[str, str, str]:
    """Containers, images and selector, as a workload's wide columns show them."""
    containers = obj["spec"]["template"]["spec"].get("containers") or []
    labels = (obj["spec"].get("selector") or {}).get("matchLabels") or {}
    return (
        ",".join(c["name"] for c in containers),
        ",".join(c["image"] for c in containers),
        ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
    )


def _deployment(dep: Obj, now: float) -> Cells:
    status = dep.get("status") or {}
    return [
        dep["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{dep['spec'].get('replicas', 0)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _since(dep["metadata"].get("creationTimestamp"), now),
        *_workload(dep),
    ]


def _replicaset(rs: Obj, now: float) -> Cells:
    status = rs.get("status") or {}
    return [
        rs["metadata"]["name"],
        rs["spec"].get("replicas", 0),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        _since(rs["metadata"].get("creationTimestamp"), now),
        *_workload(rs),
    ]


_PRINTERS: dict[str, tuple[list[Column], Callable[[Obj, float], Cells]]] = {
    "Pod": (_POD_COLUMNS, _pod),
    "Event": (_EVENT_COLUMNS, _event),
    "Deployment": (_DEPLOYMENT_COLUMNS, _deployment),
    "ReplicaSet": (_REPLICASET_COLUMNS, _replicaset),
}


def printable(kind: str) -> bool:
    return kind in _PRINTERS


def table(kind: str, items: list[Obj], resource_version: str, now: float, include: str) -> Obj:
    """The Table of `items` of `kind`; `include` is the includeObject query (Metadata default)."""
    columns, cells = _PRINTERS[kind]
    rows = []
    for item in items:
        row: Obj = {"cells": cells(item, now)}
        if include == "Object":
            row["object"] = item
        elif include != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": item["metadata"],
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {"name": n, "type": t, "format": f, "description": "", "priority": p}
            for n, t, f, p in columns
        ],
        "rows": rows,
    }
