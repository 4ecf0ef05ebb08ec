"""The docker.logs read: the tail of a container's output, filtered, redacted, errors counted."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import docker
from docker.errors import NotFound

from bot.config import ServiceBinding
from bot.executors.base import CheckResult, Finding
from bot.executors.docker.client import DockerClient
from bot.executors.docker.containers import container_name, missing
from bot.executors.docker.params import DockerLogs
from bot.redact import redact

MAX_TEXT = 64 * 1024
# The same notion of an error line as the Kubernetes logs read, so playbooks port across.
ERROR_LINE = re.compile(r"error|exception|fatal|killed|refused|timeout|traceback", re.IGNORECASE)


async def read_logs(
    client: DockerClient, action: DockerLogs, target: ServiceBinding
) -> CheckResult:
    name = container_name(action.container, target)
    since = (
        datetime.now(UTC) - timedelta(minutes=action.since_minutes)
        if action.since_minutes
        else None
    )

    def work(engine: docker.DockerClient) -> bytes:
        try:
            data: bytes = engine.api.logs(
                name, stdout=True, stderr=True, tail=action.tail, since=since, timestamps=False
            )
        except NotFound:
            raise missing(name) from None
        return data

    raw = await client.call(work, what=f"logs of container {name}")
    lines = raw.decode("utf-8", errors="replace").splitlines()
    if action.match:
        pattern = re.compile(action.match, re.IGNORECASE)
        lines = [line for line in lines if pattern.search(line)]
    text = redact("\n".join(lines))
    if len(text) > MAX_TEXT:
        text = "(earlier lines cut)\n" + text[-MAX_TEXT:]
    errors = sum(1 for line in text.splitlines() if ERROR_LINE.search(line))
    filters = [f"last {action.tail} lines"]
    if action.since_minutes:
        filters.append(f"last {action.since_minutes} min")
    if action.match:
        filters.append(f"matching {action.match!r}")
    summary = f"logs of {name} ({', '.join(filters)}): {len(lines)} line(s), {errors} error line(s)"
    return CheckResult(
        status="problem" if errors else "ok",
        summary=summary,
        output=text,
        findings=[
            Finding(name="logs.text", value=text, subject=name),
            Finding(name="logs.errors", value=errors, subject=name),
        ],
    )
