"""A new container made from another's inspected config: what compose does to scale or recreate."""

from __future__ import annotations

from typing import Any

import docker

from bot.executors.common import dig
from bot.executors.docker.client import Obj

_BUILTIN_NETWORKS = frozenset({"bridge", "host", "none", "default"})


def _exposed(attrs: Obj, bindings: dict[str, Any]) -> list[Any]:
    ports = []
    for spec in {**(dig(attrs, "Config", "ExposedPorts") or {}), **bindings}:
        port, _, proto = str(spec).partition("/")
        ports.append((int(port), proto or "tcp"))
    return sorted(set(ports))


def _volumes(attrs: Obj) -> list[str]:
    """The binds, plus every volume mount (anonymous ones too) kept by its name."""
    binds = list(dig(attrs, "HostConfig", "Binds") or [])
    bound = {b.split(":")[1] for b in binds if b.count(":") >= 1}
    for mount in attrs.get("Mounts") or []:
        if mount.get("Type") == "volume" and mount.get("Destination") not in bound:
            mode = "rw" if mount.get("RW", True) else "ro"
            binds.append(f"{mount['Name']}:{mount['Destination']}:{mode}")
    return binds


def networks_of(attrs: Obj) -> list[str]:
    """The user-defined networks a container is on, which a new one must join too."""
    networks = dig(attrs, "NetworkSettings", "Networks") or {}
    return [n for n in networks if n not in _BUILTIN_NETWORKS]


def create_like(
    engine: docker.DockerClient,
    model: Obj,
    name: str,
    *,
    labels: dict[str, str],
    aliases: list[str],
    port_bindings: dict[str, Any] | None = None,
) -> str:
    """Create (not start) a container named `name` configured as `model`; its ID.

    `port_bindings` (`{"8000/tcp": [{"HostIp": "", "HostPort": "8080"}]}`) replaces the model's.
    """
    api = engine.api
    config, host = model.get("Config") or {}, model.get("HostConfig") or {}
    policy = host.get("RestartPolicy") or {}
    bindings = host.get("PortBindings") or {} if port_bindings is None else port_bindings
    networks = networks_of(model)
    host_config = api.create_host_config(
        port_bindings=bindings or None,
        mem_limit=host.get("Memory") or None,
        memswap_limit=host.get("MemorySwap") or None,
        restart_policy=policy if policy.get("Name") else None,
        network_mode=host.get("NetworkMode") or None,
        binds=_volumes(model) or None,
    )
    networking = (
        api.create_networking_config({networks[0]: api.create_endpoint_config(aliases=aliases)})
        if networks
        else None
    )
    created = api.create_container(
        config.get("Image"),
        command=config.get("Cmd"),
        entrypoint=config.get("Entrypoint"),
        environment=config.get("Env"),
        labels=labels,
        working_dir=config.get("WorkingDir") or None,
        user=config.get("User") or None,
        healthcheck=config.get("Healthcheck"),
        stop_signal=config.get("StopSignal") or None,
        stop_timeout=config.get("StopTimeout"),
        ports=_exposed(model, bindings) or None,
        name=name,
        host_config=host_config,
        networking_config=networking,
    )
    for network in networks[1:]:
        api.connect_container_to_network(created["Id"], network, aliases=aliases)
    return str(created["Id"])
