"""Settings from the environment variables the bot reads, and where its bundled data lives."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bot.redact import register_secret
from bot.store.bounded import DEFAULT_TIMEOUT_S

DEFAULT_TIMER_SYNC_S = 60.0
# Slack's request timestamp is whole seconds, so 2.5 leaves 0.5 s of Slack's 3 for the ack.
DEFAULT_STALE_AFTER_S = 2.5

_REPO = Path(__file__).resolve().parent.parent
_BUNDLED = Path(__file__).resolve().parent / "_bundled"


def _data_dir(name: str) -> Path:
    """A source checkout's own folder first, else the copy bundled into the wheel."""
    for candidate in (_REPO / name, _BUNDLED / name):
        if candidate.is_dir():
            return candidate
    return _REPO / name


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str | None
    slack_signing_secret: str | None
    slack_app_token: str | None
    slack_api_url: str
    redis_url: str | None
    config_path: str | None
    playbooks_dir: Path
    templates_dir: Path
    state_path: Path
    kubeconfig: str | None
    docker_host: str | None
    # Seconds one store call may take before the user is told the store is not answering.
    store_timeout_s: float = DEFAULT_TIMEOUT_S
    # Seconds between re-reads of every open incident: how soon a replica arms timers of
    # incidents another replica opened, and so how late a dead replica's nudges can be.
    timer_sync_s: float = DEFAULT_TIMER_SYNC_S
    # A Slack request older than this (by its sender's clock) decides nothing: Slack gives up
    # at 3 s, and the decision and ack need the rest.
    stale_after_s: float = DEFAULT_STALE_AFTER_S

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        settings = cls(
            slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            slack_app_token=env.get("SLACK_APP_TOKEN") or None,
            slack_api_url=env.get("SLACK_API_URL") or "https://slack.com/api/",
            redis_url=env.get("REDIS_URL") or None,
            config_path=env.get("RUNBOOK_BOT_CONFIG") or None,
            playbooks_dir=Path(env.get("RUNBOOK_BOT_PLAYBOOKS") or _data_dir("playbooks")),
            templates_dir=Path(env.get("RUNBOOK_BOT_TEMPLATES") or _data_dir("templates")),
            state_path=Path(
                env.get("RUNBOOK_BOT_STATE")
                or Path.home() / ".local" / "state" / "runbook-bot" / "incidents.db"
            ),
            kubeconfig=env.get("KUBECONFIG") or None,
            docker_host=env.get("DOCKER_HOST") or None,
            store_timeout_s=float(env.get("RUNBOOK_BOT_STORE_TIMEOUT_S") or DEFAULT_TIMEOUT_S),
            timer_sync_s=float(env.get("RUNBOOK_BOT_TIMER_SYNC_S") or DEFAULT_TIMER_SYNC_S),
            stale_after_s=float(env.get("RUNBOOK_BOT_STALE_AFTER_S") or DEFAULT_STALE_AFTER_S),
        )
        for secret in (
            settings.slack_bot_token,
            settings.slack_signing_secret,
            settings.slack_app_token,
        ):
            register_secret(secret)
        return settings
