"""The scale benchmark's harness end to end, small: one replica, then three behind HAProxy on
Redis, one of them killed with -9 under load. Counts are checked; timings are only printed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.scale import parse
from bench.table import read_figures
from tests.support.redis_server import require_redis_server

REPO = Path(__file__).resolve().parents[2]


def test_a_small_run_with_a_replica_killed_loses_and_doubles_nothing(tmp_path: Path) -> None:
    require_redis_server()
    if shutil.which("haproxy", path="/usr/sbin:/usr/bin:/sbin:/bin") is None:
        pytest.skip("haproxy is not installed (make test-deps installs it)")
    out = tmp_path / "figures.json"
    argv = [
        sys.executable, str(REPO / "bench" / "scale.py"),
        "--incidents", "10", "--faults", "kill", "--level2", "4", "--level3", "6",
        "--json", str(out),
    ]  # fmt: skip
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=300)
    print(done.stdout[-6000:], done.stderr[-3000:])
    assert done.returncode == 0
    figures = {f.figure: f.value for f in read_figures(out)}
    for run in ("one replica", "fleet", "fleet, kill"):
        assert figures[f"{run}: lost"] == 0
        assert figures[f"{run}: doubled"] == 0
    assert figures["nudges posted per due nudge"] == 1.0
    assert figures["Redis commands per click"] > 0
    # Every incident was opened and every level posted, in each run.
    assert done.stdout.count("nudges due 20, posted 20 (1.00 per due)") == 3


def test_options_keep_a_small_run_small_and_refuse_unknown_faults() -> None:
    args = parse(["--incidents", "5", "--faults", ""])
    assert args.incidents == 5 and args.faults == []
    assert parse([]).faults == ["kill", "pause", "primary"]
    assert parse([]).store == "sentinel"
    with pytest.raises(SystemExit):
        parse(["--faults", "kill,meteor"])
