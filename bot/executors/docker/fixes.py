"""Docker fixes, planned from `inspect` since the engine has no dry run; only apply sends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import docker

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Preview, WriteAction
from bot.executors.common import dig
from bot.executors.docker.client import DockerClient, DockerError, Obj
from bot.executors.docker.compose import plan_scale
from bot.executors.docker.containers import MIB, State, container_name, inspect
from bot.executors.docker.params import DockerRestart, DockerSetMemory, DockerStart, DockerStop
from bot.executors.docker.plan import Plan
from bot.executors.docker.recreate import plan_recreate
from bot.executors.tabled import Fix
from bot.executors.units import parse_quantity
from bot.redact import redact

# Below this a container cannot even start; a typo such as "64" (bytes) is refused.
MIN_MEMORY = 6 * MIB


def _grace(seconds: int) -> str:
    return "killing it at once" if seconds == 0 else f"with a {seconds} s grace period"


async def _restart(client: DockerClient, a: DockerRestart, t: ServiceBinding) -> Plan:
    name = container_name(a.container, t)
    state = State.of(await inspect(client, name))

    def run(engine: docker.DockerClient) -> None:
        engine.api.restart(name, timeout=a.stop_timeout_s)

    up = state.status in ("running", "restarting", "paused")
    how = f"stops it {_grace(a.stop_timeout_s)}, then starts it" if up else "starts it"
    return Plan(
        title=f"restart container {name} ({state.short()}): {how}",
        before=f"{name}: {state.short()}",
        after=f"{name}: running (restarted)",
        run=run,
        slack=a.stop_timeout_s,
        done=f"restarted container {name}",
        name=name,
    )


async def _start(client: DockerClient, a: DockerStart, t: ServiceBinding) -> Plan:
    name = container_name(a.container, t)
    state = State.of(await inspect(client, name))
    if state.status in ("running", "restarting"):
        raise DockerError(f"container {name} is already {state.status}; nothing to start")
    if state.status == "paused":
        raise DockerError(f"container {name} is paused; start does not unpause it")

    def run(engine: docker.DockerClient) -> None:
        engine.api.start(name)

    return Plan(
        title=f"start container {name} ({state.short()})",
        before=f"{name}: {state.short()}",
        after=f"{name}: running",
        run=run,
        done=f"started container {name}",
        name=name,
    )


async def _stop(client: DockerClient, a: DockerStop, t: ServiceBinding) -> Plan:
    name = container_name(a.container, t)
    state = State.of(await inspect(client, name))
    if state.status in ("exited", "created", "dead"):
        raise DockerError(f"container {name} is already stopped ({state.short()})")

    def run(engine: docker.DockerClient) -> None:
        engine.api.stop(name, timeout=a.stop_timeout_s)

    return Plan(
        title=f"stop container {name} ({state.short()}) {_grace(a.stop_timeout_s)}",
        before=f"{name}: {state.short()}",
        after=f"{name}: exited (stopped)",
        run=run,
        slack=a.stop_timeout_s,
        done=f"stopped container {name}",
        name=name,
    )


def _mib(size: int) -> str:
    return "unlimited" if size <= 0 else f"{size / MIB:g} MiB"


def memory_bytes(quantity: str) -> int:
    """512Mi, 4Gi, 1G -> bytes, as the Kubernetes quantities playbooks already use."""
    size = parse_quantity(quantity)
    if size is None or size < MIN_MEMORY:
        raise DockerError(f"memory {quantity} is not a usable limit (at least 6Mi)")
    return int(size)


def swap_for(attrs: Obj, memory: int) -> int:
    """The memory+swap limit to set with a new memory limit, keeping the swap allowance."""
    old_memory = int(dig(attrs, "HostConfig", "Memory") or 0)
    old_swap = int(dig(attrs, "HostConfig", "MemorySwap") or 0)
    if old_swap == -1:
        return -1
    # The engine refuses a memory limit above the old memory+swap one, so both move together.
    extra = old_swap - old_memory if old_memory > 0 and old_swap > old_memory else 0
    return memory + extra


async def _set_memory(client: DockerClient, a: DockerSetMemory, t: ServiceBinding) -> Plan:
    name = container_name(a.container, t)
    attrs = await inspect(client, name)
    memory = memory_bytes(a.memory)
    swap = swap_for(attrs, memory)
    old_memory = int(dig(attrs, "HostConfig", "Memory") or 0)
    old_swap = int(dig(attrs, "HostConfig", "MemorySwap") or 0)

    def run(engine: docker.DockerClient) -> None:
        engine.api.update_container(name, mem_limit=memory, memswap_limit=swap)

    def limits(mem: int, swp: int) -> str:
        return f"{name}: memory limit {_mib(mem)}, memory+swap {_mib(swp)}"

    return Plan(
        title=f"set memory limit of {name}: {_mib(old_memory)} -> {_mib(memory)}",
        before=limits(old_memory, old_swap),
        after=limits(memory, swap),
        run=run,
        done=f"set memory limit of {name} to {_mib(memory)} (was {_mib(old_memory)})",
        name=name,
    )


_Planner = Callable[[DockerClient, Any, ServiceBinding], Awaitable[Plan]]
PLANNERS: dict[str, _Planner] = {
    "docker.restart": _restart,
    "docker.start": _start,
    "docker.stop": _stop,
    "docker.set_memory": _set_memory,
    "docker.compose_scale": plan_scale,
    "docker.recreate": plan_recreate,
}


async def preview_fix(client: DockerClient, action: WriteAction, target: ServiceBinding) -> Preview:
    plan = await PLANNERS[action.type](client, action, target)
    return Preview(
        summary=redact(plan.title),
        before=redact(plan.before),
        after=redact(plan.after),
        diff=redact(plan.diff()),
    )


async def apply_fix(
    client: DockerClient, action: WriteAction, target: ServiceBinding
) -> CheckResult:
    plan = await PLANNERS[action.type](client, action, target)
    await client.call(plan.run, what=plan.title.split(":")[0], slack=plan.slack)
    after = await plan.outcome(client)
    return CheckResult(
        status="ok", summary=redact(f"{plan.done}; now {after}"), output=redact(after)
    )


FIXES = {name: Fix(preview_fix, apply_fix) for name in PLANNERS}
