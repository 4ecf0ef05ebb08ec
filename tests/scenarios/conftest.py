"""Helpers for scenario tests: the real `runbook-bot` console script, driven over pipes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.adapters.console import os_login
from bot.drills.kubernetes import Sandbox

BOT = Path(sys.executable).parent / "runbook-bot"
# Generous: bounds a hang on the shared 2-core box; no test asserts how long anything takes.
TIMEOUT_S = 180.0
# Sandbox pods become ready this long after they are created; small keeps the drills quick.
READY_DELAY = "0.2"
# Settings the bot reads from the environment; a scenario sets only the ones it means to.
_BOT_VARIABLES = ("SLACK_", "RUNBOOK_BOT_", "REDIS_URL", "KUBECONFIG", "DOCKER_HOST")


def bot_env(**settings: str) -> dict[str, str]:
    """This process's environment without the bot's own settings, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_BOT_VARIABLES)}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings)
    return env


class Transcript:
    """What one run printed, split into the reply to each command it was given."""

    def __init__(self, commands: Sequence[str], stdout: str, stderr: str, returncode: int) -> None:
        self.commands = list(commands)
        self.stdout = stdout
        self.stderr = stderr
        self.returncode = returncode
        self.preamble, self.replies = _split(self.commands, stdout)

    def reply(self, command: str, nth: int = 0) -> str:
        """The output of the nth time `command` was given (a pipe echoes each as `> command`)."""
        matches = [r for c, r in zip(self.commands, self.replies, strict=False) if c == command]
        assert len(matches) > nth, f"no reply to {command!r} #{nth}:\n{self.stdout}"
        return matches[nth]

    def lines(self, command: str, nth: int = 0) -> list[str]:
        return [line for line in self.reply(command, nth).splitlines() if line.strip()]


def _split(commands: list[str], stdout: str) -> tuple[str, list[str]]:
    """Cut stdout at each echoed command, in the order they were sent."""
    sections: list[list[str]] = [[]]
    for line in stdout.splitlines():
        index = len(sections) - 1
        if index < len(commands) and line == f"> {commands[index]}":
            sections.append([])
        else:
            sections[-1].append(line)
    return "\n".join(sections[0]), ["\n".join(s) for s in sections[1:]]


def run_bot(args: Sequence[str], commands: Sequence[str], env: dict[str, str]) -> Transcript:
    """Run `runbook-bot ARGS` with the commands piped to stdin; waits for it to exit."""
    done = subprocess.run(
        [str(BOT), *args],
        input="".join(f"{c}\n" for c in commands),
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT_S,
        check=False,
    )
    return Transcript(commands, done.stdout, done.stderr, done.returncode)


class BotProcess:
    """A running `runbook-bot` whose stdin is written line by line while its stdout is read."""

    def __init__(self, args: Sequence[str], env: dict[str, str]) -> None:
        self.commands: list[str] = []
        self._out: list[str] = []
        self._err: list[str] = []
        self._ended = 0
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            [str(BOT), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._readers = [
            threading.Thread(target=self._read, args=(stream, sink), daemon=True)
            for stream, sink in ((self.process.stdout, self._out), (self.process.stderr, self._err))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: Any, sink: list[str]) -> None:
        for line in stream:
            with self._changed:
                sink.append(line)
                self._changed.notify_all()
        # End of output: wake a waiter so it fails now rather than at its timeout.
        with self._changed:
            self._ended += 1
            self._changed.notify_all()

    @property
    def stdout(self) -> str:
        with self._changed:
            return "".join(self._out)

    @property
    def stderr(self) -> str:
        with self._changed:
            return "".join(self._err)

    def send(self, *commands: str) -> None:
        assert self.process.stdin is not None
        for command in commands:
            self.commands.append(command)
            self.process.stdin.write(f"{command}\n")
        self.process.stdin.flush()

    def wait_for(self, text: str) -> str:
        """Block until stdout contains `text`; returns stdout so far."""

        def seen() -> bool:
            return text in "".join(self._out) or self._ended == len(self._readers)

        with self._changed:
            self._changed.wait_for(seen, timeout=TIMEOUT_S)
            out = "".join(self._out)
        assert text in out, f"never printed {text!r}:\n{out}\nstderr:\n{self.stderr}"
        return out

    def finish(self) -> Transcript:
        """Close stdin, wait for the exit and return the whole transcript."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        returncode = self.process.wait(timeout=TIMEOUT_S)
        for reader in self._readers:
            reader.join(timeout=TIMEOUT_S)
        return Transcript(self.commands, self.stdout, self.stderr, returncode)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, no goodbye, like a crashed pod."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=TIMEOUT_S)
        # The readers see end of output once the process is gone; close the pipes after them.
        for reader in self._readers:
            reader.join(timeout=TIMEOUT_S)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def spawn() -> Iterator[Callable[[Sequence[str], dict[str, str]], BotProcess]]:
    """Starts `runbook-bot` processes; any still running at the end are killed."""
    started: list[BotProcess] = []

    def _spawn(args: Sequence[str], env: dict[str, str]) -> BotProcess:
        started.append(BotProcess(args, env))
        return started[-1]

    yield _spawn
    for process in started:
        process.kill()


@pytest.fixture
def sandbox() -> Iterator[Callable[[str], Sandbox]]:
    """Starts sandbox clusters in this process; all are stopped at the end."""
    started: list[Sandbox] = []

    def _start(scenario: str) -> Sandbox:
        started.append(Sandbox.start(scenario, ready_delay=float(READY_DELAY)))
        return started[-1]

    yield _start
    for sb in started:
        sb.stop()


def console_env(
    sb: Sandbox, folder: Path, console_users: dict[str, str] | None = None, /, **settings: str
) -> dict[str, str]:
    """Environment for `runbook-bot console` against a sandbox, approvers oncall and lead; the
    operating-system user running the tests is `oncall` at the console unless told otherwise."""
    config = {
        "services": {sb.service_name: sb.binding()},
        "approvers": ["oncall", "lead"],
        "console_users": {os_login(): "oncall"} if console_users is None else console_users,
    }
    config_path = folder / "runbook-bot.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return bot_env(
        RUNBOOK_BOT_CONFIG=str(config_path),
        KUBECONFIG=str(sb.write_kubeconfig(folder / "kubeconfig")),
        **settings,
    )
