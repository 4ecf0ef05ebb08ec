"""The bench table, the runner's discovery and isolation, and the memory benchmark's reading."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench import run_all
from bench.memory import Memory, parse_status, process_memory
from bench.table import Figure, format_table, read_figures, write_figures

STAGE = Figure("stage", "stage / slowest", 260.0, "ms", 250.0, goal_below=1.3, goal_on="ratio")
ACK = Figure("ack", "p99 product / bare", 90.0, "ms", 30.0, goal_below=1.5, goal_on="ratio")
LATE = Figure("timers", "lateness p99", 1500.0, "ms", goal_below=1000)
IDLE = Figure("memory", "RSS idle", 83.4, "MiB")


def test_goals_are_marked_on_the_ratio_or_the_value() -> None:
    assert STAGE.ratio == pytest.approx(1.04)
    assert STAGE.met is True
    assert ACK.met is False  # ratio 3.0
    assert LATE.met is False  # value 1500 ms, no ratio
    assert Figure("t", "p99", 80.0, "ms", goal_below=1000).met is True
    assert IDLE.met is None
    # A ratio goal without a baseline cannot be met.
    assert Figure("x", "y", 1.0, goal_below=2.0, goal_on="ratio").met is False


def test_the_table_has_one_row_per_figure_aligned_under_its_header() -> None:
    failed = Figure.failed("memory", "exited with 1")
    lines = format_table([STAGE, ACK, LATE, IDLE, failed]).splitlines()
    header, rule, *rows = lines
    assert header.split()[:3] == ["benchmark", "figure", "value"]
    assert set(rule) == {"-", " "}
    assert len(rows) == 5
    stage, ack, late, idle, broken = rows
    assert "260 ms" in stage and "250 ms" in stage and "1.04" in stage
    assert "ratio < 1.30" in stage and stage.endswith("met")
    assert "3.00" in ack and ack.endswith("MISSED")
    assert "< 1,000 ms" in late and "ratio" not in late and late.endswith("MISSED")
    assert "83.4 MiB" in idle and not idle.endswith(("met", "MISSED"))
    assert broken.endswith("FAILED: exited with 1")
    # Numbers are right-aligned: every value ends in the same column as the header's.
    value_end = header.index("value") + len("value")
    for row in (stage, ack, late):
        assert row[:value_end].endswith(" ms")


def test_figures_round_trip_through_json_and_bad_json_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "figures.json"
    write_figures(path, [STAGE, IDLE])
    assert read_figures(path) == [STAGE, IDLE]
    path.write_text('[{"benchmark": "x"}]', encoding="utf-8")
    with pytest.raises(ValueError, match=r"unreadable figures in figures\.json") as bad:
        read_figures(path)
    assert "\n" not in str(bad.value)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="unreadable figures"):
        read_figures(path)


def test_discovery_takes_the_files_that_declare_a_benchmark(tmp_path: Path) -> None:
    (tmp_path / "a_bench.py").write_text('BENCHMARK = "a"\n', encoding="utf-8")
    (tmp_path / "helper.py").write_text('NAME = "helper"\n', encoding="utf-8")
    (tmp_path / "broken.py").write_text("BENCHMARK = (\n", encoding="utf-8")
    (tmp_path / "nested.py").write_text('def f():\n    BENCHMARK = "no"\n', encoding="utf-8")
    assert [b.name for b in run_all.discover(tmp_path)] == ["a"]
    shipped = {b.path.name for b in run_all.discover()}
    assert {
        "ack_latency.py",
        "memory.py",
        "scale.py",
        "stage_diagnostics.py",
        "timer_lateness.py",
    } <= shipped
    assert not shipped & {"bare_app.py", "table.py", "run_all.py", "fleet.py", "ledger.py"}


def test_a_benchmark_may_declare_a_longer_timeout(tmp_path: Path) -> None:
    long_one = tmp_path / "long.py"
    long_one.write_text('BENCHMARK = "long"\nTIMEOUT_S = 1800\n', encoding="utf-8")
    plain = tmp_path / "plain.py"
    plain.write_text('BENCHMARK = "plain"\nTIMEOUT_S = "soon"\n', encoding="utf-8")
    assert run_all.timeout_of(run_all.Benchmark("long", long_one)) == 1800.0
    assert run_all.timeout_of(run_all.Benchmark("plain", plain)) == run_all.TIMEOUT_S
    shipped = {b.path.name: b for b in run_all.discover()}
    assert run_all.timeout_of(shipped["scale.py"]) > run_all.TIMEOUT_S


def test_an_unknown_benchmark_name_is_refused_in_one_line() -> None:
    with pytest.raises(SystemExit, match="no benchmark named nope"):
        run_all.selected(run_all.discover(), ["nope"])


def script(folder: Path, name: str, body: str) -> run_all.Benchmark:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return run_all.Benchmark(name, path)


def test_the_runner_collects_figures_and_marks_a_benchmark_that_gives_none(
    tmp_path: Path,
) -> None:
    good = script(tmp_path, "good", """
        import sys
        from bench.table import Figure, write_figures
        from pathlib import Path
        write_figures(Path(sys.argv[2]), [Figure("good", "f", 1.5, "ms")])
    """)  # fmt: skip
    crashing = script(tmp_path, "crashing", "raise SystemExit(3)\n")
    silent = script(tmp_path, "silent", "pass\n")
    out = tmp_path / "out"
    out.mkdir()
    assert run_all.run(good, out, 60) == [Figure("good", "f", 1.5, "ms")]
    assert run_all.run(crashing, out, 60)[0].failure == "exited with 3"
    assert run_all.run(silent, out, 60)[0].failure == "wrote no figures"


def test_a_benchmark_past_its_timeout_is_stopped_with_what_it_started(tmp_path: Path) -> None:
    child_pid = tmp_path / "child.pid"
    hanging = script(tmp_path, "hanging", f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        open({str(child_pid)!r}, "w").write(str(child.pid))
        time.sleep(120)
    """)  # fmt: skip
    [row] = run_all.run(hanging, tmp_path, 3)
    assert row.failure == "no result within 3 s"
    assert math.isnan(row.value)
    assert not alive(int(child_pid.read_text()))


def alive(pid: int) -> bool:
    """Running, not merely a zombie awaiting its reaper."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_status_parsing_reads_rss_and_peak_and_refuses_what_lacks_them() -> None:
    status = "Name:\tpython\nVmHWM:\t  90112 kB\nVmRSS:\t   85400 kB\nThreads:\t7\n"
    assert parse_status(status) == Memory(rss_kib=85400, hwm_kib=90112)
    with pytest.raises(ValueError, match="no VmHWM or VmRSS"):
        parse_status("Name:\tkthreadd\nState:\tS (sleeping)\n")
    with pytest.raises(ValueError, match="unexpected VmRSS line"):
        parse_status("VmHWM:\t1 kB\nVmRSS:\t12 MB\n")


def test_process_memory_sees_a_real_process_grow_by_what_it_allocates() -> None:
    grow = (
        "import sys; sys.stdin.readline(); b = bytearray(64 << 20); print('ok', flush=True); "
        "sys.stdin.readline()"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", grow], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        before = process_memory(process.pid)
        process.stdin.write("\n")
        process.stdin.flush()
        assert process.stdout.readline() == "ok\n"
        after = process_memory(process.pid)
    finally:
        process.stdin.close()
        process.wait(60)
    assert after.rss_kib - before.rss_kib >= 56 * 1024  # 64 MiB, zero-filled so resident
    assert after.hwm_kib >= after.rss_kib > 0


def test_process_memory_of_no_such_process_is_one_clear_error() -> None:
    no_pid = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
    with pytest.raises(ProcessLookupError, match=f"no process {no_pid}"):
        process_memory(no_pid)
    assert process_memory(os.getpid()).rss_kib > 0
