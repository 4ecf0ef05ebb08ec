"""The docker.exec read: the playbook's fixed argument list run in the container, no shell."""

from __future__ import annotations

import asyncio
from typing import Any

import docker
from docker.errors import APIError, NotFound

from bot.config import ServiceBinding
from bot.executors.base import CheckResult
from bot.executors.common import exec_findings
from bot.executors.docker.client import DockerClient, DockerError
from bot.executors.docker.containers import container_name, missing
from bot.executors.docker.params import DockerExec
from bot.redact import redact

MAX_OUTPUT = 16 * 1024


async def read_exec(
    client: DockerClient, action: DockerExec, target: ServiceBinding
) -> CheckResult:
    name = container_name(action.container, target)
    shown = " ".join(action.command)

    def start(engine: docker.DockerClient) -> tuple[str, Any]:
        try:
            created = engine.api.exec_create(name, list(action.command), stdout=True, stderr=True)
            return str(created["Id"]), engine.api.exec_start(created["Id"], stream=True)
        except NotFound:
            raise missing(name) from None
        except APIError as exc:
            if exc.status_code == 409:
                raise DockerError(f"cannot exec in {name}: it is not running") from None
            raise

    exec_id, stream = await client.call(start, what=f"exec in container {name}")
    reading = client.in_thread(lambda: b"".join(stream))
    try:
        raw = await asyncio.wait_for(reading, action.timeout_s)
    except TimeoutError:
        raise DockerError(
            f"{shown} in {name}: timed out after {action.timeout_s:g}s "
            "(it may still be running in the container)"
        ) from None
    finally:
        # The engine cannot kill an exec; closing the stream at least frees the reader thread.
        # Its close() shuts the socket down only while the response is open, and never closes
        # the response's file over the socket, which keeps the socket's descriptor alive.
        stream.close()
        stream._response.close()

    def exit_code(engine: docker.DockerClient) -> int:
        code = engine.api.exec_inspect(exec_id).get("ExitCode")
        return -1 if code is None else int(code)

    code = await client.call(exit_code, what=f"exec in container {name}")
    text = redact(raw.decode("utf-8", errors="replace").rstrip())
    if len(text) > MAX_OUTPUT:
        text = text[:MAX_OUTPUT] + "\n... (output cut)"
    first = text.splitlines()[0] if text else "no output"
    findings, lacking = exec_findings(code, text, name)
    summary = f"{shown} in {name}: exit {code}: {first}"
    if lacking:
        summary = f"{lacking} is not in the image of container {name}: cannot run {shown} there"
    return CheckResult(
        status="ok" if code == 0 else "problem",
        summary=redact(summary),
        output=text,
        findings=findings,
    )
