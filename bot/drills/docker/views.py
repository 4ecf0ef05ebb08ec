"""Containers rendered as Docker answers: inspect, the `ps` summary, and a stats snapshot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.drills.docker.health import app_health, app_listening
from bot.drills.docker.host import HOST_MEMORY, Container, Host

ZERO_TIME = "0001-01-01T00:00:00Z"
_ONLINE_CPUS = 2
_NS = 1_000_000_000


def timestamp(at: float | None) -> str:
    """RFC 3339 with nanoseconds, as Docker writes times."""
    if at is None:
        return ZERO_TIME
    moment = datetime.fromtimestamp(at, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}000Z"


def _ago(seconds: float) -> str:
    """Docker's human duration (go-units HumanDuration), e.g. '3 minutes', 'About an hour'."""
    if seconds < 1:
        return "Less than a second"
    if seconds < 60:
        return f"{int(seconds)} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    return f"{int(hours / 24)} days"


def _health(host: Host, box: Container) -> dict[str, Any] | None:
    if not box.healthcheck:
        return None
    if box.running and not app_listening(host):
        status = "starting"
    else:
        status = "healthy" if box.running and app_health(host)[0] else "unhealthy"
    return {"Status": status, "FailingStreak": 0 if status != "unhealthy" else 3, "Log": []}


def status_text(host: Host, box: Container) -> str:
    now = host.clock()
    if box.status == "created":
        return "Created"
    if box.running:
        health = _health(host, box)
        suffix = f" ({health['Status']})" if health else ""
        if health and health["Status"] == "starting":
            suffix = " (health: starting)"
        return f"Up {_ago(now - (box.started_at or now))}{suffix}"
    return f"Exited ({box.exit_code}) {_ago(now - (box.finished_at or now))} ago"


def _ports(box: Container) -> dict[str, list[dict[str, str]]]:
    if not box.publish or not box.host_port:
        return {}
    return {box.publish: [{"HostIp": "127.0.0.1", "HostPort": str(box.host_port)}]}


def inspect(host: Host, box: Container) -> dict[str, Any]:
    """`GET /containers/{id}/json`."""
    state: dict[str, Any] = {
        "Status": box.status,
        "Running": box.running,
        "Paused": False,
        "Restarting": False,
        "OOMKilled": box.oom_killed,
        "Dead": False,
        "Pid": 4242 if box.running else 0,
        "ExitCode": box.exit_code,
        "Error": "",
        "StartedAt": timestamp(box.started_at),
        "FinishedAt": timestamp(box.finished_at),
    }
    health = _health(host, box)
    if health is not None:
        state["Health"] = health
    bindings = _ports(box)
    return {
        "Id": box.id,
        "Created": timestamp(box.created),
        "Path": "sh",
        "Args": [],
        "State": state,
        "Image": f"sha256:{box.id[::-1]}",
        "Name": f"/{box.name}",
        "RestartCount": box.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "HostConfig": {
            "NetworkMode": f"{box.labels.get('com.docker.compose.project', 'default')}_default",
            "PortBindings": bindings,
            "RestartPolicy": {"Name": box.restart_policy, "MaximumRetryCount": 0},
            "Memory": box.memory,
            "MemorySwap": box.memory_swap,
            "MemoryReservation": 0,
            "NanoCpus": 0,
        },
        "Config": {
            "Hostname": box.id[:12],
            "Image": box.image,
            "Env": [f"{k}={v}" for k, v in box.env.items()],
            "Labels": dict(box.labels),
            "ExposedPorts": {box.publish: {}} if box.publish else {},
            "Tty": False,
            "Cmd": None,
            "Entrypoint": None,
        },
        "NetworkSettings": {"Ports": bindings if box.running else {}},
    }


def summary(host: Host, box: Container) -> dict[str, Any]:
    """One row of `GET /containers/json`."""
    ports = []
    if box.running and box.publish and box.host_port:
        private, kind = box.publish.split("/")
        ports.append(
            {"IP": "127.0.0.1", "PrivatePort": int(private), "PublicPort": box.host_port,
             "Type": kind}
        )  # fmt: skip
    return {
        "Id": box.id,
        "Names": [f"/{box.name}"],
        "Image": box.image,
        "ImageID": f"sha256:{box.id[::-1]}",
        "Command": "docker-entrypoint.sh",
        "Created": int(box.created),
        "Ports": ports,
        "Labels": dict(box.labels),
        "State": box.status,
        "Status": status_text(host, box),
        "HostConfig": {"NetworkMode": "default"},
        "Mounts": [],
    }


def _memory_usage(host: Host, box: Container) -> int:
    """An under-sized container's memory climbs to its limit by the time it is killed."""
    deadline = host.oom_deadline(box)
    if deadline is None or box.started_at is None:
        return box.memory_used
    progress = (host.clock() - box.started_at) / max(deadline - box.started_at, 1e-9)
    return int(box.memory * (0.5 + 0.49 * min(max(progress, 0.0), 1.0)))


def stats(host: Host, box: Container) -> dict[str, Any]:
    """`GET /containers/{id}/stats?stream=false`: a stopped container reads all zeros."""
    now = host.clock()
    base = {"name": f"/{box.name}", "id": box.id, "read": timestamp(now)}
    if not box.running:
        zero = {"cpu_usage": {"total_usage": 0}, "throttling_data": {}}
        return {**base, "preread": ZERO_TIME, "cpu_stats": zero, "precpu_stats": zero,
                "memory_stats": {}, "pids_stats": {}}  # fmt: skip
    system = int(now * _NS) * _ONLINE_CPUS
    system_delta = _NS * _ONLINE_CPUS
    used = int((now - (box.started_at or now)) * _NS * box.cpu_percent / 100)
    delta = int(system_delta * box.cpu_percent / 100 / _ONLINE_CPUS)
    limit = box.memory or HOST_MEMORY

    def cpu(total: int, system_total: int) -> dict[str, Any]:
        return {
            "cpu_usage": {"total_usage": total, "usage_in_kernelmode": 0,
                          "usage_in_usermode": total},
            "system_cpu_usage": system_total,
            "online_cpus": _ONLINE_CPUS,
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        }  # fmt: skip

    return {
        **base,
        "preread": timestamp(now - 1),
        "pids_stats": {"current": 7},
        "cpu_stats": cpu(used + delta, system),
        "precpu_stats": cpu(used, system - system_delta),
        "memory_stats": {"usage": _memory_usage(host, box), "limit": limit, "stats": {}},
        "networks": {"eth0": {"rx_bytes": 1_048_576, "tx_bytes": 524_288}},
    }
