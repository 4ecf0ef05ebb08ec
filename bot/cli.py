"""The `runbook-bot` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from bot.adapters.inflight import SHUTDOWN_GRACE_S
from bot.config import load_config
from bot.errors import BotError, PlaybookError
from bot.logs import setup_logging
from bot.playbooks.bindings import catalog_problems
from bot.playbooks.loader import lint_directory, load_playbooks
from bot.settings import Settings
from bot.templates import TemplateRenderer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runbook-bot", description="Operational runbooks as interactive incident playbooks."
    )
    parser.add_argument(
        "--log-format",
        choices=("json", "text"),
        help="log lines as JSON or text (default: RUNBOOK_BOT_LOG_FORMAT, else json for serve "
        "and socket, text otherwise)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    lint = commands.add_parser("lint", help="validate playbooks; file:line: reason per error")
    lint.add_argument("directory", nargs="?", help="playbook folder (default: the configured one)")
    lint.add_argument(
        "--config",
        help="also check that each service binds what its playbooks need "
        "(default: RUNBOOK_BOT_CONFIG, if set)",
    )

    rbac = commands.add_parser(
        "rbac", help="print least-privilege RBAC YAML for the namespaces the config's services use"
    )
    rbac.add_argument("--config", help="config file (default: RUNBOOK_BOT_CONFIG)")
    rbac.add_argument("--playbooks", help="playbook folder (default: the configured one)")
    rbac.add_argument("--bot-namespace", default="runbook-bot", help="namespace the bot runs in")

    drill = commands.add_parser(
        "drill", help="run a playbook against the built-in sandbox cluster or Docker engine"
    )
    drill.add_argument("playbook", help="playbook id, e.g. api-down or api-down-compose")
    drill.add_argument(
        "--scenario", help="drill scenario; it picks the sandbox (default: the playbook's first)"
    )
    drill.add_argument("--as", dest="actor", default="oncall", help="your name in the drill")
    drill.add_argument(
        "--ready-delay",
        type=float,
        default=1.5,
        help="seconds new sandbox pods or containers take to start",
    )
    drill.add_argument(
        "--oom-after",
        type=float,
        help="seconds a sandbox container short of memory runs before it is OOM-killed "
        "(Docker drills; default: the scenario's)",
    )

    console = commands.add_parser(
        "console",
        help="work incidents from the terminal, as your login's user ID from console_users:",
    )
    console.add_argument("--incident", help="resume this incident id")

    serve = commands.add_parser(
        "serve", help="Slack over HTTP: POST /slack/events, /healthz, /readyz"
    )
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000)")
    _shutdown_grace(serve)

    socket = commands.add_parser("socket", help="Slack over Socket Mode (needs SLACK_APP_TOKEN)")
    socket.add_argument("--host", default="0.0.0.0", help="address for /healthz and /readyz")
    socket.add_argument("--port", type=int, default=3000, help="port for /healthz and /readyz")
    _shutdown_grace(socket)

    sandbox = commands.add_parser(
        "sandbox",
        help="serve a drill scenario's sandbox cluster or Docker engine until interrupted",
    )
    sandbox.add_argument(
        "--scenario",
        default="oom-bad-deploy",
        help="drill scenario; it picks the sandbox (default oom-bad-deploy)",
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on")
    sandbox.add_argument("--port", type=int, default=0, help="port to listen on (default: any)")
    sandbox.add_argument("--kubeconfig", help="write a kubeconfig for the sandbox cluster here")
    sandbox.add_argument(
        "--ready-delay",
        type=float,
        help="seconds new sandbox pods (default 1.5) or containers (default 1.0) take to start",
    )
    return parser


def _shutdown_grace(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--shutdown-grace",
        type=_seconds,
        default=SHUTDOWN_GRACE_S,
        metavar="SECONDS",
        help="on SIGTERM, how long work under way may take to finish "
        f"(default {SHUTDOWN_GRACE_S:g}; keep it under the pod's termination grace period)",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600 seconds: {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging(args.command, args.log_format, os.environ, level=logging.WARNING)
    try:
        settings = Settings.from_env()
        if args.command == "lint":
            return _lint(settings, args.directory, args.config)
        if args.command == "rbac":
            from bot.rbac import run as run_rbac

            return run_rbac(args.config, args.playbooks, args.bot_namespace)
        if args.command == "drill":
            return asyncio.run(_drill(settings, args))
        if args.command == "console":
            return asyncio.run(_console(settings, args))
        if args.command in ("serve", "socket"):
            return asyncio.run(_slack(settings, args, socket_mode=args.command == "socket"))
        if args.command == "sandbox":
            return _sandbox(args)
    except PlaybookError:
        # The message is already printed by _refuse_invalid_playbooks.
        return 1
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


def _lint(settings: Settings, directory: str | None, config: str | None) -> int:
    folder = Path(directory) if directory else settings.playbooks_dir
    templates = TemplateRenderer(settings.templates_dir)
    problems = lint_directory(folder, templates)
    config_path = Path(config) if config else settings.config_path
    if not problems and config_path:
        problems = catalog_problems(Path(config_path), load_playbooks(folder, templates))
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"{folder}: all playbooks valid")
    if config_path:
        print(f"{config_path}: every service binds what its playbooks need")
    return 0


def _refuse_invalid_playbooks(settings: Settings) -> None:
    problems = lint_directory(settings.playbooks_dir, TemplateRenderer(settings.templates_dir))
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        raise PlaybookError(str(problems[0]))


async def _drill(settings: Settings, args: argparse.Namespace) -> int:
    from bot.drills.run import run_drill

    _refuse_invalid_playbooks(settings)
    return await run_drill(
        args.playbook,
        args.scenario,
        args.actor,
        sys.stdin,
        sys.stdout,
        settings=settings,
        ready_delay=args.ready_delay,
        oom_after=args.oom_after,
    )


async def _console(settings: Settings, args: argparse.Namespace) -> int:
    from bot.adapters.console import Console, ConsoleNotifier, console_actor, os_login
    from bot.app import running_engine
    from bot.engine.scheduler import Scheduler, process_owner

    _refuse_invalid_playbooks(settings)
    config = load_config(settings.config_path)
    # The operating system's word for who is typing, not a name anyone can type.
    actor = console_actor(config, os_login())
    async with running_engine(settings, config) as engine:
        console = Console(engine, actor, sys.stdin, sys.stdout, echo=not sys.stdin.isatty())
        if args.incident:
            await console.execute(f"use {args.incident}")
        notifier = ConsoleNotifier(console)
        owner = process_owner()
        async with Scheduler(engine, notifier, owner=owner, sync_interval=settings.timer_sync_s):
            return await console.run()


async def _slack(settings: Settings, args: argparse.Namespace, socket_mode: bool) -> int:
    from bot.adapters.slack.factory import run, slack_tokens
    from bot.drills.pool import SandboxPool

    # Before the playbooks are read, so a missing token is the first thing said.
    tokens = slack_tokens(settings, socket_mode=socket_mode)
    _refuse_invalid_playbooks(settings)
    config = load_config(settings.config_path)
    await run(
        settings, config, tokens, args.host, args.port, args.shutdown_grace, sandboxes=SandboxPool
    )
    return 0


def _sandbox(args: argparse.Namespace) -> int:
    from bot.drills.serve import serve

    return serve(args.scenario, args.host, args.port, args.kubeconfig, args.ready_delay)


if __name__ == "__main__":
    sys.exit(main())
