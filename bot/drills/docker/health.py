"""What the app's health endpoint says, from the containers' states."""

from __future__ import annotations

from bot.drills.docker.host import Host


def app_listening(host: Host) -> bool:
    """The app answers on its port once it has been up for the start-up delay."""
    app = host.containers.get(host.scenario.app)
    if app is None:
        return False
    host.settle(app)
    started = app.started_at or 0.0
    return app.running and host.clock() >= started + host.ready_delay


def dependency_states(host: Host) -> dict[str, str]:
    """'up' or 'down' per dependency, as the app sees it through its connection pool."""
    app = host.containers.get(host.scenario.app)
    app_start = (app.started_at if app else None) or 0.0
    app_service = app.service if app else ""
    states = {}
    for box in host.containers.values():
        # Replicas of the app itself (compose scale) are not its dependencies.
        if box.service == app_service or box.publish is None:
            continue
        seen = box.running and (host.scenario.reconnects or (box.started_at or 0.0) <= app_start)
        states[box.service or box.name] = "up" if seen else "down"
    return states


def app_health(host: Host) -> tuple[bool, dict[str, object]]:
    """(healthy, the JSON body of the health endpoint)."""
    deps = dependency_states(host)
    healthy = all(v == "up" for v in deps.values())
    body: dict[str, object] = {
        "status": "healthy" if healthy else "unhealthy",
        "version": host.scenario.version,
        "dependencies": deps,
    }
    return healthy, body


def dependency_running(host: Host, name: str) -> bool:
    box = host.containers.get(name)
    if box is None:
        return False
    host.settle(box)
    return box.running
