"""`docker exec`: instances created against a container, run from its scenario's replies."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from bot.drills.docker.host import STDERR, STDOUT, Container, HostError, container_id
from bot.drills.docker.streams import frames

_counter = itertools.count(1)


@dataclass
class ExecInstance:
    id: str
    container: Container
    command: list[str]
    attach_stdout: bool
    attach_stderr: bool
    running: bool = False
    exit_code: int | None = None
    output: list[tuple[int, str]] = field(default_factory=list)


def create_exec(box: Container, body: dict[str, Any]) -> ExecInstance:
    if not box.running:
        raise HostError(409, f"Container {box.id} is not running")
    command = body.get("Cmd")
    if not isinstance(command, list) or not command or not all(isinstance(a, str) for a in command):
        raise HostError(400, "No exec command specified")
    return ExecInstance(
        id=container_id(f"exec/{box.id}/{next(_counter)}"),
        container=box,
        command=list(command),
        attach_stdout=bool(body.get("AttachStdout", True)),
        attach_stderr=bool(body.get("AttachStderr", True)),
    )


def _run(instance: ExecInstance) -> tuple[list[tuple[int, str]], int]:
    """What the program prints: `env` and `echo` are built in, the rest come from the scenario."""
    box, (program, *args) = instance.container, instance.command
    if program == "env":
        return [(STDOUT, f"{k}={v}\n") for k, v in box.env.items()], 0
    if program == "echo":
        return [(STDOUT, " ".join(args) + "\n")], 0
    reply = box.exec.get(program)
    if reply is None:
        message = (
            "OCI runtime exec failed: exec failed: unable to start container process: "
            f'exec: "{program}": executable file not found in $PATH: unknown\n'
        )
        return [(STDOUT, message)], 126
    out = [(STDOUT, f"{line}\n") for line in reply.stdout]
    return out + [(STDERR, f"{line}\n") for line in reply.stderr], reply.exit_code


def start_exec(instance: ExecInstance) -> bytes:
    """Run the instance once and return its framed output; a second start is refused."""
    if instance.exit_code is not None or instance.running:
        raise HostError(409, f"Error: Exec command {instance.id} has already run")
    if not instance.container.running:
        raise HostError(409, f"Container {instance.container.id} is not running")
    output, instance.exit_code = _run(instance)
    wanted = {STDOUT} if instance.attach_stdout else set()
    if instance.attach_stderr:
        wanted.add(STDERR)
    return frames((stream, text) for stream, text in output if stream in wanted)


def exec_view(instance: ExecInstance) -> dict[str, Any]:
    """`GET /exec/{id}/json`."""
    program, *args = instance.command
    return {
        "ID": instance.id,
        "Running": instance.running,
        "ExitCode": instance.exit_code,
        "ProcessConfig": {"tty": False, "entrypoint": program, "arguments": args,
                          "privileged": False},
        "OpenStdin": False,
        "OpenStderr": instance.attach_stderr,
        "OpenStdout": instance.attach_stdout,
        "CanRemove": False,
        "ContainerID": instance.container.id,
        "DetachKeys": "",
        "Pid": 4243 if instance.exit_code is None else 0,
    }  # fmt: skip
