"""Command-line options that shape how the bot serves."""

from __future__ import annotations

import pytest

from bot import cli


@pytest.mark.parametrize("command", ["serve", "socket"])
def test_the_shutdown_grace_reaches_the_server(command: str) -> None:
    assert cli._parser().parse_args([command]).shutdown_grace == 25.0
    assert cli._parser().parse_args([command, "--shutdown-grace", "40"]).shutdown_grace == 40.0


@pytest.mark.parametrize("value", ["abc", "0", "-5", "7200"])
def test_a_bad_shutdown_grace_is_one_line(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--shutdown-grace", value])
    assert exited.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("runbook-bot serve: error: argument --shutdown-grace: ")
