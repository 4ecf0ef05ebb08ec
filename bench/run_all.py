"""Runs every benchmark in bench/ and prints one table of their headline figures.

A benchmark is a bench/*.py with a module-level `BENCHMARK = "name"` (see bench/table.py), and
`TIMEOUT_S = seconds` if it needs longer than the default; each runs in its own process with
`--json FILE`, its own output shown as it goes, so one benchmark's threads, servers and heap
never weigh on the next. Goals are shown and marked, not enforced: the
exit status is 1 only when a benchmark gave no figures.

    .venv/bin/python bench/run_all.py [NAME ...]   # NAME: a file's stem, e.g. memory
"""

from __future__ import annotations

import argparse
import ast
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.table import Figure, format_table, read_figures

BENCH_DIR = Path(__file__).resolve().parent
TIMEOUT_S = 240.0
GRACE_S = 30.0


@dataclass(frozen=True)
class Benchmark:
    name: str
    path: Path


def declared(path: Path, name: str) -> object:
    """A module-level constant `NAME = ...`, read without importing the file; None if absent."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
            and isinstance(node.value, ast.Constant)
        ):
            return node.value.value
    return None


def declared_name(path: Path) -> str | None:
    """The module-level `BENCHMARK = "..."` string."""
    name = declared(path, "BENCHMARK")
    return name if isinstance(name, str) else None


def timeout_of(benchmark: Benchmark) -> float:
    """Its own `TIMEOUT_S = ...` when it declares one (a long run), else TIMEOUT_S."""
    own = declared(benchmark.path, "TIMEOUT_S")
    return float(own) if isinstance(own, int | float) and not isinstance(own, bool) else TIMEOUT_S


def discover(folder: Path = BENCH_DIR) -> list[Benchmark]:
    """Every benchmark in the folder, by file name."""
    found = [(declared_name(path), path) for path in sorted(folder.glob("*.py"))]
    return [Benchmark(name, path) for name, path in found if name]


def group_running(pgid: int) -> bool:
    """Whether a process of the group still runs; zombies only wait for their reaper."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="utf-8").rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the benchmark and the servers it started (its own session), then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + GRACE_S
        while group_running(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not group_running(process.pid):
            break
    process.wait()


def run(benchmark: Benchmark, workdir: Path, timeout_s: float) -> list[Figure]:
    """The benchmark's figures, or one FAILED row that says why there are none."""
    out = workdir / f"{benchmark.path.stem}.json"
    argv = [sys.executable, str(benchmark.path), "--json", str(out)]
    # Its own session, so a timeout or ^C stops its servers too, and only them.
    process = subprocess.Popen(argv, cwd=BENCH_DIR.parent, start_new_session=True)
    try:
        code = process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        stop_group(process)
        return [Figure.failed(benchmark.name, f"no result within {timeout_s:.0f} s")]
    except KeyboardInterrupt:
        stop_group(process)
        raise
    if code != 0:
        return [Figure.failed(benchmark.name, f"exited with {code}")]
    if not out.exists():
        return [Figure.failed(benchmark.name, "wrote no figures")]
    try:
        figures = read_figures(out)
    except ValueError as exc:
        return [Figure.failed(benchmark.name, str(exc))]
    return figures or [Figure.failed(benchmark.name, "wrote no figures")]


def selected(benchmarks: list[Benchmark], names: list[str]) -> list[Benchmark]:
    if not names:
        return benchmarks
    by_stem = {b.path.stem: b for b in benchmarks}
    unknown = [n for n in names if n not in by_stem]
    if unknown:
        sys.exit(f"no benchmark named {', '.join(unknown)} (there are: {', '.join(by_stem)})")
    return [by_stem[n] for n in names]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="only these (file stems)")
    parser.add_argument(
        "--timeout",
        type=float,
        help=f"seconds per benchmark (default: its own TIMEOUT_S, else {TIMEOUT_S:.0f})",
    )
    args = parser.parse_args()
    benchmarks = selected(discover(), args.names)
    figures: list[Figure] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        for benchmark in benchmarks:
            print(f"== {benchmark.name} (bench/{benchmark.path.name})", flush=True)
            began = time.monotonic()
            figures += run(benchmark, Path(tmp), args.timeout or timeout_of(benchmark))
            print(f"   ({time.monotonic() - began:.0f} s)\n", flush=True)
    print(f"{len(benchmarks)} benchmarks in {time.monotonic() - started:.0f} s\n")
    print(format_table(figures))
    return 1 if any(f.failure for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
