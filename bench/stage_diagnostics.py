"""A stage of ten diagnostics against a sandbox cluster that answers every request 200 ms late.

Prints the stage's wall time against the slowest single check measured in the same run, and the
sum of all checks (what running them one after another would cost). Goal: stage/slowest < 1.3.

    .venv/bin/python bench/stage_diagnostics.py [--latency 0.2] [--rounds 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.table import Figure, add_json_option, write_figures
from bot.app import build_executors
from bot.config import Config, ServiceBinding
from bot.drills.kubernetes import Sandbox
from bot.engine.engine import Engine
from bot.engine.incident import Actor
from bot.playbooks.loader import load_playbooks
from bot.settings import Settings
from bot.store.factory import open_store
from bot.templates import TemplateRenderer

CHECKS = [
    "k8s.pods",
    "k8s.events",
    "k8s.nodes",
    "k8s.endpoints",
    "k8s.ingresses",
    "k8s.configmap",
    "k8s.secret_keys",
    "k8s.env",
    "k8s.network_policies",
    "k8s.top_nodes",
]
ACTOR = Actor(id="bench")
BENCHMARK = "stage diagnostics"


def bench_playbook(directory: Path) -> None:
    steps = [
        {"id": f"check-{i}", "kind": "diagnostic", "title": name, "action": {"type": name}}
        for i, name in enumerate(CHECKS)
    ]
    playbook = {
        "id": "bench",
        "title": "Benchmark",
        "severity": "low",
        "platform": "kubernetes",
        "stages": [{"id": "ten-checks", "title": "Ten checks", "steps": steps}],
    }
    (directory / "bench.yml").write_text(yaml.safe_dump(playbook), encoding="utf-8")


async def measure(engine: Engine, incident_id: str, rounds: int) -> tuple[float, float, float]:
    stage_times, slowest_times, sums = [], [], []
    for _ in range(rounds):
        singles = []
        for index in range(len(CHECKS)):
            started = time.perf_counter()
            await engine.run_step(incident_id, f"check-{index}", ACTOR)
            singles.append(time.perf_counter() - started)
        started = time.perf_counter()
        runs = await engine.run_stage(incident_id, ACTOR)
        stage_times.append(time.perf_counter() - started)
        failed = [r for r in runs if r.status == "error"]
        if failed:
            sys.exit(f"a check failed, the benchmark is void: {failed[0].summary}")
        slowest_times.append(max(singles))
        sums.append(sum(singles))
    return (
        statistics.median(stage_times),
        statistics.median(slowest_times),
        statistics.median(sums),
    )


async def main(latency: float, rounds: int) -> list[Figure]:
    settings = Settings.from_env()
    with tempfile.TemporaryDirectory() as tmp, Sandbox.start(latency=latency) as sandbox:
        folder = Path(tmp)
        bench_playbook(folder)
        templates = TemplateRenderer(settings.templates_dir)
        config = Config(services={"ecap-api": ServiceBinding.model_validate(sandbox.binding())})
        executors = build_executors(str(sandbox.write_kubeconfig(folder / "kubeconfig")))
        store = open_store(None, folder / "bench.db")
        engine = Engine(load_playbooks(folder, templates), config, store, executors, templates)
        incident = await engine.open("bench", "ecap-api", ACTOR)
        await engine.run_stage(incident.id, ACTOR)  # warm up: kubeconfig, connection pool
        stage, slowest, total = await measure(engine, incident.id, rounds)
        await executors.close()
        await store.close()
    print(f"stage of {len(CHECKS)} diagnostics, {latency * 1000:.0f} ms injected per API request")
    print(f"  slowest single check : {slowest * 1000:7.0f} ms")
    print(f"  all ten, one by one  : {total * 1000:7.0f} ms")
    print(f"  the stage, concurrent: {stage * 1000:7.0f} ms")
    print(f"  ratio stage/slowest  : {stage / slowest:7.2f}   (goal < 1.3)")
    print(f"  ratio sequential/stage: {total / stage:6.1f}x")
    headline = Figure(
        BENCHMARK, "stage / slowest single check", stage * 1000, "ms",
        baseline=slowest * 1000, goal_below=1.3, goal_on="ratio",
    )  # fmt: skip
    return [headline]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=5)
    add_json_option(parser)
    args = parser.parse_args()
    write_figures(args.json, asyncio.run(main(args.latency, args.rounds)))
