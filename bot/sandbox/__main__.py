"""`python -m bot.sandbox`: serve a scenario in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import threading

from bot.sandbox import Sandbox, list_scenarios


def main(argv: list[str] | None = None) -> int:
    names = [name for name, _ in list_scenarios()]
    parser = argparse.ArgumentParser(prog="python -m bot.sandbox", description=__doc__)
    parser.add_argument("--scenario", default="oom-bad-deploy", choices=names)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--kubeconfig", help="write a kubeconfig for this sandbox here")
    parser.add_argument("--ready-delay", type=float, default=1.5)
    args = parser.parse_args(argv)

    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    with Sandbox.start(
        args.scenario, host=args.host, port=args.port, ready_delay=args.ready_delay
    ) as sandbox:
        print(f"sandbox cluster '{sandbox.scenario}' serving at {sandbox.url}", flush=True)
        if args.kubeconfig:
            print(f"kubeconfig: {sandbox.write_kubeconfig(args.kubeconfig)}", flush=True)
        done.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
