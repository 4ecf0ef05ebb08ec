"""Named points where a fault test has the process die outright, as `kill -9` would there."""

from __future__ import annotations

import os
import signal

# Comma-separated point names; unset in every real deployment.
CRASH_AT = "RUNBOOK_BOT_CRASH_AT"


def crash_point(name: str) -> None:
    """SIGKILL this process when RUNBOOK_BOT_CRASH_AT names this point: no cleanup, no flush."""
    if name in os.environ.get(CRASH_AT, "").split(","):
        os.kill(os.getpid(), signal.SIGKILL)
