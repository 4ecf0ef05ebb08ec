"""runbook-bot: operational runbooks as interactive incident playbooks."""

__version__ = "0.1.0"
