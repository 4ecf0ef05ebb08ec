"""Log lines: one JSON object a line for log pipelines, or plain text for a terminal.

Every line carries the incident being worked on, from a context variable the engine sets when
it touches an incident. asyncio gives each task (each Slack request, each timer firing) its own
copy of the context, so the id set while handling one request stays with that request.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal, TextIO, TypeAlias

from bot.redact import redact

LogFormat = Literal["json", "text"]
ExcInfo: TypeAlias = (
    tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]
)
FORMAT_ENV = "RUNBOOK_BOT_LOG_FORMAT"
# Long-running services feed log pipelines; the interactive commands stay readable.
JSON_BY_DEFAULT = frozenset({"serve", "socket"})
_FORMATS: dict[str, LogFormat] = {"json": "json", "text": "text"}

current_incident: ContextVar[str | None] = ContextVar("current_incident", default=None)


def working_on(incident_id: str) -> None:
    """Tag this task's log lines, from here on, with the incident id."""
    if current_incident.get() != incident_id:
        current_incident.set(incident_id)


def exception_line(exc_info: ExcInfo) -> str:
    """`ValueError: reason (bot/x.py:12 in f)`: the exception and where it was raised, no stack."""
    kind, exc, tb = exc_info
    if kind is None or exc is None:
        return ""
    reason = " ".join(str(exc).split())
    # Redacted before the place is added: a masked value runs to the end of the text.
    text = redact(f"{kind.__name__}: {reason}" if reason else kind.__name__)
    frames = traceback.extract_tb(tb)
    if frames:
        last = frames[-1]
        text += f" ({last.filename}:{last.lineno} in {last.name})"
    return text


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, incident (when there is one), exception (when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        incident = current_incident.get()
        if incident is not None:
            line["incident"] = incident
        if record.exc_info:
            line["exception"] = exception_line(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`LEVEL logger: [INC-0001] message`, redacted, an exception on the same line."""

    def format(self, record: logging.LogRecord) -> str:
        incident = current_incident.get()
        message = redact(record.getMessage())
        text = f"{record.levelname} {record.name}: "
        text += f"[{incident}] {message}" if incident else message
        if record.exc_info:
            text += f": {exception_line(record.exc_info)}"
        return " ".join(text.splitlines())


class _StderrHandler(logging.StreamHandler[TextIO]):
    """The handler setup_logging installs, told apart from anyone else's."""


def choose_format(
    command: str, flag: str | None, environ: Mapping[str, str]
) -> tuple[LogFormat, str | None]:
    """The format (flag, else environment, else the command's default) and a one-line problem
    when the environment names no known format."""
    default: LogFormat = "json" if command in JSON_BY_DEFAULT else "text"
    if flag is not None and flag in _FORMATS:
        return _FORMATS[flag], None
    wanted = environ.get(FORMAT_ENV, "").strip().lower()
    if not wanted:
        return default, None
    if wanted in _FORMATS:
        return _FORMATS[wanted], None
    return default, f"{FORMAT_ENV}={wanted!r} is not json or text; logging as {default}"


def setup_logging(
    command: str,
    flag: str | None,
    environ: Mapping[str, str],
    *,
    level: int = logging.WARNING,
) -> LogFormat:
    """Route every logger to stderr in the chosen format; returns the format chosen.

    Calling it again replaces its own handler only, so handlers others installed (a test
    runner's capture) keep working.
    """
    chosen, problem = choose_format(command, flag, environ)
    handler = _StderrHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    if problem:
        logging.getLogger(__name__).warning("%s", problem)
    return chosen
