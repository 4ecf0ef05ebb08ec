"""Settings read from the environment: the timer sync interval, the stale limit."""

from __future__ import annotations

from bot.settings import DEFAULT_STALE_AFTER_S, DEFAULT_TIMER_SYNC_S, Settings


def test_the_timer_sync_interval_defaults_to_a_minute_and_is_set_by_the_environment() -> None:
    assert Settings.from_env({}).timer_sync_s == DEFAULT_TIMER_SYNC_S == 60.0
    assert Settings.from_env({"RUNBOOK_BOT_TIMER_SYNC_S": "5"}).timer_sync_s == 5.0


def test_the_stale_limit_is_within_slacks_3_seconds_and_set_by_the_environment() -> None:
    assert Settings.from_env({}).stale_after_s == DEFAULT_STALE_AFTER_S == 2.5
    assert Settings.from_env({"RUNBOOK_BOT_STALE_AFTER_S": "2"}).stale_after_s == 2.0
