"""Settings read from the environment: the timer sync interval."""

from __future__ import annotations

from bot.settings import DEFAULT_TIMER_SYNC_S, Settings


def test_the_timer_sync_interval_defaults_to_a_minute_and_is_set_by_the_environment() -> None:
    assert Settings.from_env({}).timer_sync_s == DEFAULT_TIMER_SYNC_S == 60.0
    assert Settings.from_env({"RUNBOOK_BOT_TIMER_SYNC_S": "5"}).timer_sync_s == 5.0
