"""docker.recreate: what `docker-compose up -d` does after a change a start cannot apply.

The old container is stopped and set aside under another name, a new one is created with its
name, config, labels, networks and volumes (and the new port mappings), and started; only then
is the old one removed. If the new one cannot start, the old one gets its name back and runs.
"""

from __future__ import annotations

from typing import Any

import docker

from bot.config import ServiceBinding
from bot.executors.common import dig
from bot.executors.docker.client import DockerClient
from bot.executors.docker.containers import (
    SERVICE_LABEL,
    State,
    container_name,
    inspect,
    labels_of,
)
from bot.executors.docker.creation import create_like
from bot.executors.docker.params import DockerRecreate
from bot.executors.docker.plan import Plan


def port_bindings(mappings: list[str]) -> dict[str, list[dict[str, str]]]:
    """`["8080:8000"]` as the engine's `{"8000/tcp": [{"HostIp": "", "HostPort": "8080"}]}`."""
    bindings: dict[str, list[dict[str, str]]] = {}
    for mapping in mappings:
        spec, _, proto = mapping.partition("/")
        *ip, host, port = spec.split(":")
        bindings.setdefault(f"{port}/{proto or 'tcp'}", []).append(
            {"HostIp": ip[0] if ip else "", "HostPort": host}
        )
    return bindings


def shown_ports(bindings: dict[str, Any]) -> str:
    """Published ports as `docker port` lists them: 8000/tcp -> 0.0.0.0:8080."""
    shown = [
        f"{port} -> {b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort') or '(any)'}"
        for port, listed in sorted(bindings.items())
        for b in listed or []
    ]
    return ", ".join(shown) or "none published"


async def plan_recreate(client: DockerClient, a: DockerRecreate, t: ServiceBinding) -> Plan:
    name = container_name(a.container, t)
    attrs = await inspect(client, name)
    state = State.of(attrs)
    old_ports = dig(attrs, "HostConfig", "PortBindings") or {}
    new_ports = port_bindings(a.ports) if a.ports is not None else old_ports
    labels = labels_of(attrs)
    aliases = [labels[SERVICE_LABEL]] if labels.get(SERVICE_LABEL) else []
    aside = f"{name}_replaced_{str(attrs.get('Id', ''))[:12]}"

    def run(engine: docker.DockerClient) -> None:
        api = engine.api
        if state.status in ("running", "restarting", "paused"):
            api.stop(name, timeout=a.stop_timeout_s)
        api.rename(name, aside)
        created = ""
        try:
            created = create_like(
                engine, attrs, name, labels=labels, aliases=aliases, port_bindings=new_ports
            )
            api.start(created)
        except Exception:
            # Put the old container back as it was, so a failed recreate changes nothing.
            if created:
                api.remove_container(created, force=True)
            api.rename(aside, name)
            if state.status == "running":
                api.start(name)
            raise
        api.remove_container(aside)

    def side(ports: dict[str, Any], status: str) -> str:
        return f"{name}: {status}; ports {shown_ports(ports)}"

    return Plan(
        title=(
            f"recreate container {name} ({state.status}) with ports {shown_ports(new_ports)}"
            f" (was {shown_ports(old_ports)}); same name, labels, networks and volumes"
        ),
        before=side(old_ports, state.short()),
        after=side(new_ports, "running (new container)"),
        run=run,
        slack=a.stop_timeout_s,
        done=f"recreated container {name} with ports {shown_ports(new_ports)}",
        name=name,
    )
