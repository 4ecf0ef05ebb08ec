"""Helpers every backend shares: nested lookups, one-line reasons, reach-or-not results."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

from bot.executors.base import CheckResult, Finding
from bot.redact import redact

# How container runtimes (runc, crun) report a program the image does not have.
_MISSING_PROGRAM = re.compile(
    r'exec: "(?P<name>[^"]{1,200})": (?:executable file not found|stat \S+: no such file)'
    r"|exec: (?P<crun>\S{1,200}): No such file or directory"
)


def dig(obj: Any, *path: str) -> Any:
    """obj[path[0]][path[1]]..., None where any step is missing."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def one_line(exc: BaseException | str) -> str:
    """The first line of an error's text; its class name when it says nothing."""
    text = str(exc).strip()
    if not text and isinstance(exc, BaseException):
        return type(exc).__name__
    return text.splitlines()[0] if text else ""


def causes(exc: BaseException) -> Iterator[BaseException]:
    """The error and what it wraps, outermost first: clients hide the OS error several deep."""
    cause: BaseException | None = exc
    while cause is not None:
        yield cause
        cause = cause.__cause__ or cause.__context__


def elapsed_ms(started: float) -> int:
    """Milliseconds since `started`, a `time.perf_counter()` reading."""
    return round((time.perf_counter() - started) * 1000)


def reached(summary: str, findings: list[Finding]) -> CheckResult:
    """The target answered: the summary is the whole output."""
    return CheckResult(status="ok", summary=summary, output=summary, findings=findings)


def unreachable(shown: str, reason: str, finding: str, subject: str) -> CheckResult:
    """The target did not answer: for an "is it up?" check that is the answer, not an error."""
    summary = redact(f"{shown}: {reason}")
    return CheckResult(
        status="problem",
        summary=summary,
        output=summary,
        findings=[Finding(name=finding, value=False, subject=subject)],
    )


def missing_program(output: str) -> str | None:
    """The program an exec could not start because the image lacks it, from the runtime's text."""
    found = _MISSING_PROGRAM.search(output)
    return (found["name"] or found["crun"]) if found else None


def exec_findings(code: int, output: str, subject: str) -> tuple[list[Finding], str | None]:
    """An exec's findings, and the program the image lacks if that is why it failed.

    `exec.failed` is set only when the program ran: a symptom "cannot reach the database" must
    not match an image without psql.
    """
    findings = [
        Finding(name="exec.exit_code", value=code, subject=subject),
        Finding(name="exec.output", value=output, subject=subject),
    ]
    missing = missing_program(output) if code != 0 else None
    if missing:
        findings.append(Finding(name="exec.missing_program", value=missing, subject=subject))
    else:
        findings.append(Finding(name="exec.failed", value=code != 0, subject=subject))
    return findings, missing
