"""`runbook-bot --help` and every subcommand's `--help` run, exit 0 and print their usage."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import _parser

RUNBOOK_BOT = Path(sys.executable).with_name("runbook-bot")


def _subcommands() -> list[str]:
    actions = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(actions[0].choices)


def test_every_documented_command_is_a_subcommand() -> None:
    assert {"console", "drill", "lint", "rbac", "sandbox", "serve", "socket"} <= set(_subcommands())


@pytest.mark.parametrize("command", [[], *([name] for name in _subcommands())], ids=str)
def test_help_exits_zero_with_usage(command: list[str]) -> None:
    result = subprocess.run(
        [str(RUNBOOK_BOT), *command, "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {' '.join(['runbook-bot', *command])}")
