"""Every error a user can see. Each carries a one-line reason; none shows a stack trace."""

from __future__ import annotations


class BotError(Exception):
    """Base of every expected failure; str() is the one-line reason shown to the user."""

    def __str__(self) -> str:
        text = super().__str__()
        return text.splitlines()[0] if text else type(self).__name__


class ConfigError(BotError):
    """The config file or environment is wrong."""


class PlaybookError(BotError):
    """A playbook failed validation; the message is `file:line: reason`."""


class NotFound(BotError):
    """An incident, step, approval or playbook that does not exist."""


class InvalidRequest(BotError):
    """A request that is valid in form but not now: a passed stage, a resolved incident."""


class NotAllowed(BotError):
    """The actor may not do this, e.g. approve a fix without being an approver."""


class StoreError(BotError):
    """The incident store could not be reached or refused a write."""


class ConflictError(StoreError):
    """A concurrent writer changed the incident first; the caller reloads and retries."""
