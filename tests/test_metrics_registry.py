"""The metrics registry and the text exposition format it writes."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from bot.metrics import CONTENT_TYPE, REGISTRY, Registry, timed


def test_a_counter_writes_help_type_and_one_line_per_label_set() -> None:
    registry = Registry()
    opened = registry.counter("t_opened_total", "Opened, by playbook.", ("playbook",))
    opened.inc(playbook="db-down")
    opened.inc(playbook="api-down")
    opened.inc(2.5, playbook="api-down")
    assert registry.exposition() == (
        "# HELP t_opened_total Opened, by playbook.\n"
        "# TYPE t_opened_total counter\n"
        't_opened_total{playbook="api-down"} 3.5\n'
        't_opened_total{playbook="db-down"} 1\n'
    )
    assert opened.value(playbook="api-down") == 3.5
    assert opened.value(playbook="never") == 0


def test_a_counter_without_labels_is_exposed_before_it_counts() -> None:
    registry = Registry()
    registry.counter("t_restarts_total", "Restarts.")
    assert registry.exposition().splitlines()[-1] == "t_restarts_total 0"


def test_label_values_and_help_are_escaped() -> None:
    registry = Registry()
    errors = registry.counter("t_errors_total", 'Errors\nwith a \\ and "quotes".', ("error",))
    errors.inc(error='say "no"\\\nnow')
    lines = registry.exposition().splitlines()
    # HELP escapes backslash and newline only; label values also escape the double quote.
    assert lines[0] == '# HELP t_errors_total Errors\\nwith a \\\\ and "quotes".'
    assert lines[2] == 't_errors_total{error="say \\"no\\"\\\\\\nnow"} 1'


def test_label_order_follows_the_declaration_not_the_call() -> None:
    registry = Registry()
    fixes = registry.counter("t_fixes_total", "Fixes.", ("result", "playbook"))
    fixes.inc(playbook="api-down", result="applied")
    assert 't_fixes_total{result="applied",playbook="api-down"} 1' in registry.exposition()


def test_a_histogram_counts_cumulative_buckets_sum_and_count() -> None:
    registry = Registry()
    latency = registry.histogram("t_latency_seconds", "Latency.", (1, 0.1, 0.5))
    for value in (0.05, 0.1, 0.3, 0.7, 4.0):
        latency.observe(value)
    assert registry.exposition() == (
        "# HELP t_latency_seconds Latency.\n"
        "# TYPE t_latency_seconds histogram\n"
        't_latency_seconds_bucket{le="0.1"} 2\n'
        't_latency_seconds_bucket{le="0.5"} 3\n'
        't_latency_seconds_bucket{le="1.0"} 4\n'
        't_latency_seconds_bucket{le="+Inf"} 5\n'
        "t_latency_seconds_sum 5.15\n"
        "t_latency_seconds_count 5\n"
    )
    assert latency.count() == 5


def test_a_labelled_histogram_puts_le_last() -> None:
    registry = Registry()
    lateness = registry.histogram("t_late_seconds", "Late.", (1,), ("kind",))
    lateness.observe(2, kind="reminder")
    lines = registry.exposition().splitlines()
    assert lines[2:] == [
        't_late_seconds_bucket{kind="reminder",le="1.0"} 0',
        't_late_seconds_bucket{kind="reminder",le="+Inf"} 1',
        't_late_seconds_sum{kind="reminder"} 2',
        't_late_seconds_count{kind="reminder"} 1',
    ]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda r: r.counter("2bad", "x"), "invalid metric name '2bad'"),
        (lambda r: r.counter("t_total", "x", ("bad-label",)), "invalid label name 'bad-label'"),
        (lambda r: r.counter("t_total", "x", ("__name",)), "invalid label name '__name'"),
        (lambda r: r.counter("t_total", "x", ("a", "a")), "repeated label name"),
        (lambda r: r.histogram("t_seconds", "x", (1,), ("le",)), "'le' is reserved"),
        (lambda r: r.histogram("t_seconds", "x", ()), "needs distinct, finite bucket bounds"),
        (lambda r: r.histogram("t_seconds", "x", (1, 1)), "needs distinct, finite bucket bounds"),
    ],
)
def test_bad_definitions_are_refused(make: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        make(Registry())  # type: ignore[operator]


def test_bad_use_is_refused_and_changes_nothing() -> None:
    registry = Registry()
    fixes = registry.counter("t_fixes_total", "Fixes.", ("result",))
    registry.histogram("t_seconds", "x", (1,))
    before = registry.exposition()
    with pytest.raises(ValueError, match="takes labels result, not outcome"):
        fixes.inc(outcome="applied")
    with pytest.raises(ValueError, match="takes labels result, not none"):
        fixes.inc()
    with pytest.raises(ValueError, match="cannot go down"):
        fixes.inc(-1, result="applied")
    with pytest.raises(ValueError, match="already registered"):
        registry.counter("t_seconds", "again")
    assert registry.exposition() == before


async def test_timed_observes_calls_that_fail_too() -> None:
    registry = Registry()
    histogram = registry.histogram("t_call_seconds", "Calls.", (60,))

    async def works() -> str:
        return "done"

    async def fails() -> str:
        raise RuntimeError("boom")

    assert await timed(histogram, works)() == "done"
    with pytest.raises(RuntimeError):
        await timed(histogram, fails)()
    assert histogram.count() == 2


def test_the_bot_registry_passes_promtool() -> None:
    """Prometheus' own checker reads what the bot serves, every series it exposes included."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (make test-deps installs prometheus)")
    registry = Registry()
    errors = registry.counter("t_errors_total", "Errors.", ("method", "error"))
    errors.inc(method="chat.postMessage", error='odd "value"\\\n')
    registry.histogram("t_latency_seconds", "Latency.", (0.1, 1)).observe(0.3)
    for text in (registry.exposition(), REGISTRY.exposition()):
        checked = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
    assert CONTENT_TYPE.startswith("text/plain; version=0.0.4")


def test_promtool_refuses_a_broken_exposition() -> None:
    """The check above can fail: promtool rejects an unescaped quote in a label value."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (make test-deps installs prometheus)")
    broken = '# HELP t_total x\n# TYPE t_total counter\nt_total{a="b"c"} 1\n'
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=broken, capture_output=True, text=True, timeout=60
    )
    assert checked.returncode != 0
