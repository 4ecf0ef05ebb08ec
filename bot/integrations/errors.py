"""The one error integrations raise, and how an HTTP failure becomes its one-line reason."""

from __future__ import annotations

import httpx

from bot.errors import BotError
from bot.redact import redact


class IntegrationError(BotError):
    """An outside service could not be reached or refused a call."""


def check(response: httpx.Response, what: str) -> None:
    """IntegrationError naming the HTTP status unless the response is a success."""
    if not response.is_success:
        raise IntegrationError(f"{what}: HTTP {response.status_code} {response.reason_phrase}")


def failure(exc: httpx.HTTPError, what: str) -> IntegrationError:
    """A one-line reason for a transport failure; httpx's own text may name the URL's secrets."""
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return IntegrationError(redact(f"{what}: {reason}"))
