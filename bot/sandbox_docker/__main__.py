"""`python -m bot.sandbox_docker`: serve a Docker scenario until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import threading

from bot.sandbox_docker import DockerSandbox, list_scenarios
from bot.sandbox_docker.sandbox import DEFAULT_SCENARIO


def main(argv: list[str] | None = None) -> int:
    names = [name for name, _, _ in list_scenarios()]
    parser = argparse.ArgumentParser(prog="python -m bot.sandbox_docker", description=__doc__)
    parser.add_argument("--scenario", default=DEFAULT_SCENARIO, choices=names)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-delay", type=float, default=1.0)
    args = parser.parse_args(argv)

    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    with DockerSandbox.start(
        args.scenario, host=args.host, port=args.port, ready_delay=args.ready_delay
    ) as sandbox:
        print(f"sandbox Docker engine '{sandbox.scenario}': DOCKER_HOST={sandbox.docker_host}")
        print(f"health URL: {sandbox.health_url}", flush=True)
        done.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
