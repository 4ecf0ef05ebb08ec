"""What a command run in a pod (`kubectl exec`) prints, simulated from the cluster's state.

A table of the commands runbooks use, each a small function of the cluster and its argv;
anything else is "not found", as a missing binary in a slim image would be.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass

from bot.drills.kubernetes.cluster import Cluster
from bot.drills.kubernetes.container import Inside, Target
from bot.drills.kubernetes.objects import Obj
from bot.drills.kubernetes.pods import PodRecord
from bot.drills.kubernetes.volumes import mounted

NOT_FOUND = 126
_ROOT_SIZE_GB = 100
_ROOT_USED_GB = 38


@dataclass(frozen=True)
class ExecResult:
    """A finished command: its output streams and exit code."""

    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0

    def status(self) -> Obj:
        """The v1 Status the API server sends on the error channel when the command ends."""
        if self.exit_code == 0:
            return {"metadata": {}, "status": "Success"}
        cause = {"reason": "ExitCode", "message": str(self.exit_code)}
        return {
            "metadata": {},
            "status": "Failure",
            "message": f"command terminated with non-zero exit code: {self.exit_code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [cause]},
        }


Command = Callable[[Inside, list[str]], ExecResult]


def _options(args: list[str], with_value: str) -> tuple[dict[str, str], list[str]]:
    """Split `-h host -p 5432 rest...` into options (those taking a value) and the rest."""
    options: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if len(arg) == 2 and arg[0] == "-" and arg[1] in with_value and i + 1 < len(args):
            options[arg[1]] = args[i + 1]
            i += 2
            continue
        if arg.startswith("-") and len(arg) > 2 and arg[1] in with_value and arg[1] != "-":
            options[arg[1]] = arg[2:]
        else:
            rest.append(arg)
        i += 1
    return options, rest


def _port(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _redis_cli(ctx: Inside, args: list[str]) -> ExecResult:
    options, rest = _options(args, "hpanu")
    host, port = options.get("h", "127.0.0.1"), _port(options.get("p")) or 6379
    target = ctx.resolve(host, port)
    if target is None:
        return ExecResult(stderr=f"Could not connect to Redis at {host}:{port}: Name or service "
                          "not known\n", exit_code=1)  # fmt: skip
    if not target.up:
        message = f"Could not connect to Redis at {host}:{port}: Connection refused\n"
        return ExecResult(stderr=message, exit_code=1)
    words = [w.lower() for w in rest if not w.startswith("-")] or ["ping"]
    replies = {
        "ping": "PONG",
        "info": "# Server\nredis_version:7.2.4\nredis_mode:standalone\n# Clients\n"
        "connected_clients:12\n# Memory\nused_memory_human:1.00M\nmaxmemory_human:0B",
        "dbsize": "(integer) 1842",
    }
    reply = replies.get(words[0], f"(error) ERR unknown command '{words[0]}' in sandbox")
    return ExecResult(stdout=reply + "\n")


def _pg_target(ctx: Inside, args: list[str]) -> tuple[str, int, Target | None, list[str]]:
    options, rest = _options(args, "hpUdc")
    host, port = options.get("h", "localhost"), _port(options.get("p")) or 5432
    url = next((a for a in rest if a.startswith(("postgres://", "postgresql://"))), None)
    if url:
        netloc = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
        host, _, given = netloc.partition(":")
        port = _port(given) or 5432
    query = [options["c"]] if "c" in options else []
    return host, port, ctx.resolve(host, port), query


def _pg_isready(ctx: Inside, args: list[str]) -> ExecResult:
    host, port, target, _ = _pg_target(ctx, args)
    if target is None or not target.up:
        return ExecResult(stdout=f"{host}:{port} - no response\n", exit_code=2)
    return ExecResult(stdout=f"{host}:{port} - accepting connections\n")


def _psql(ctx: Inside, args: list[str]) -> ExecResult:
    host, port, target, query = _pg_target(ctx, args)
    if target is None:
        message = f'psql: error: could not translate host name "{host}" to address: '
        return ExecResult(stderr=message + "Name or service not known\n", exit_code=2)
    if not target.up:
        return ExecResult(
            stderr=f'psql: error: connection to server at "{host}" ({target.ip}), port {port} '
            "failed: Connection refused\n\tIs the server running on that host and accepting "
            "TCP/IP connections?\n",
            exit_code=2,
        )
    sql = " ".join(query[0].lower().rstrip(";").split()) if query else ""
    answers = {
        "select 1": " ?column? \n----------\n        1\n(1 row)\n",
        "select version()": "                      version\n-----------------------------------"
        "---------------\n PostgreSQL 15.4 on x86_64-pc-linux-gnu\n(1 row)\n",
        "select count(*) from pg_stat_activity": " count \n-------\n    23\n(1 row)\n",
    }
    if sql in answers:
        return ExecResult(stdout=answers[sql])
    return ExecResult(stderr="ERROR:  the sandbox answers only SELECT 1, SELECT version() and "
                      "a count of pg_stat_activity\n", exit_code=1)  # fmt: skip


def _curl(ctx: Inside, args: list[str]) -> ExecResult:
    options, rest = _options(args, "owXHm")
    url = next((a for a in rest if "://" in a), next((a for a in rest if a[:1] != "-"), ""))
    if not url:
        return ExecResult(stderr="curl: no URL specified\n", exit_code=2)
    netloc = url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
    host, _, given = netloc.partition(":")
    target = ctx.resolve(host, _port(given))
    if target is None:
        return ExecResult(stderr=f"curl: (6) Could not resolve host: {host}\n", exit_code=6)
    if not target.up:
        port = _port(given) or 80
        message = f"curl: (7) Failed to connect to {host} port {port}: Connection refused\n"
        return ExecResult(stderr=message, exit_code=7)
    code, phrase = (200, "OK") if target.healthy else (503, "Service Unavailable")
    body = '{"status":"ok"}' if target.healthy else '{"status":"unhealthy"}'
    if "-w" in args or "w" in options:
        written = options.get("w", "").replace("%{http_code}", str(code)).replace("\\n", "\n")
        return ExecResult(stdout=written)
    if "-I" in rest or "--head" in rest:
        head = f"HTTP/1.1 {code} {phrase}\ncontent-type: application/json\n"
        return ExecResult(stdout=head + f"content-length: {len(body)}\n\n")
    if "-f" in rest and code >= 400:
        return ExecResult(
            stderr=f"curl: (22) The requested URL returned error: {code}\n", exit_code=22
        )
    return ExecResult(stdout=body + "\n")


def _nc(ctx: Inside, args: list[str]) -> ExecResult:
    _, rest = _options(args, "w")
    words = [a for a in rest if not a.startswith("-")]
    if len(words) < 2 or _port(words[1]) is None:
        return ExecResult(stderr="usage: nc [-zv] [-w timeout] host port\n", exit_code=1)
    host, port = words[0], int(words[1])
    target = ctx.resolve(host, port)
    if target is None:
        message = f'nc: getaddrinfo for host "{host}" port {port}: Name or service not known\n'
        return ExecResult(stderr=message, exit_code=1)
    if not target.up:
        message = f"nc: connect to {host} ({target.ip}) port {port} (tcp) failed: "
        return ExecResult(stderr=message + "Connection refused\n", exit_code=1)
    return ExecResult(stderr=f"Connection to {host} ({target.ip}) {port} port [tcp/*] succeeded!\n")


def _nslookup(ctx: Inside, args: list[str]) -> ExecResult:
    names = [a for a in args if not a.startswith("-")]
    if not names:
        return ExecResult(stderr="usage: nslookup NAME [SERVER]\n", exit_code=1)
    host = names[0]
    server = "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n"
    target = ctx.resolve(host)
    if target is None:
        return ExecResult(stdout=server + f"** server can't find {host}: NXDOMAIN\n", exit_code=1)
    namespace = ctx.pod.namespace
    fqdn = host if "." in host else f"{host}.{namespace}.svc.cluster.local"
    return ExecResult(stdout=server + f"Name:\t{fqdn}\nAddress: {target.ip}\n")


def _size(gigabytes: float) -> str:
    return f"{gigabytes:.1f}G" if gigabytes < 10 else f"{round(gigabytes)}G"


def _df(ctx: Inside, args: list[str]) -> ExecResult:
    rows: list[tuple[str, float, float, str]] = [("overlay", _ROOT_SIZE_GB, _ROOT_USED_GB, "/")]
    for i, volume in enumerate(mounted(ctx.cluster.scenario, ctx.app)):
        size = float(volume.capacity.rstrip("Gi") or 0) if volume.capacity.endswith("Gi") else 1.0
        rows.append((f"/dev/sd{chr(ord('b') + i)}", size, size * volume.used_percent / 100,
                     volume.mount))  # fmt: skip
    paths = [a for a in args if not a.startswith("-")]
    if paths:
        wanted = paths[0]
        known = ctx.directories() | set(ctx.files())
        if wanted not in known:
            message = f"df: {wanted}: No such file or directory\n"
            return ExecResult(stderr=message, exit_code=1)
        best = max(
            (r for r in rows if wanted == r[3] or wanted.startswith(r[3].rstrip("/") + "/")),
            key=lambda r: len(r[3]),
        )
        rows = [best]
    lines = ["Filesystem      Size  Used Avail Use% Mounted on"]
    for device, size, used, mount in rows:
        percent = round(100 * used / size) if size else 0
        lines.append(f"{device:<15} {_size(size):>4} {_size(used):>5} {_size(size - used):>5} "
                     f"{percent:>3}% {mount}")  # fmt: skip
    return ExecResult(stdout="\n".join(lines) + "\n")


def _ls(ctx: Inside, args: list[str]) -> ExecResult:
    paths = [a for a in args if not a.startswith("-")] or ["/"]
    files, dirs = ctx.files(), ctx.directories()
    path = ctx.path(paths[0])
    stamp = "Dec  1 09:14"
    if path in files:
        return ExecResult(stdout=f"-rw-r--r-- 1 root root {len(files[path])} {stamp} {path}\n")
    if path not in dirs:
        message = f"ls: cannot access '{paths[0]}': No such file or directory\n"
        return ExecResult(stderr=message, exit_code=2)
    children = sorted({p for p in (*files, *dirs) if p != path and posixpath.dirname(p) == path})
    lines = [
        f"total {4 * (len(children) + 2)}",
        f"drwxr-xr-x 2 root root 4096 {stamp} .",
        f"drwxr-xr-x 1 root root 4096 {stamp} ..",
    ]
    for child in children:
        kind, size = ("-rw-r--r--", len(files[child])) if child in files else ("drwxr-xr-x", 4096)
        lines.append(f"{kind} 1 root root {size:>4} {stamp} {posixpath.basename(child)}")
    return ExecResult(stdout="\n".join(lines) + "\n")  # fmt: skip


def _cat(ctx: Inside, args: list[str]) -> ExecResult:
    files, dirs = ctx.files(), ctx.directories()
    out, err = [], []
    for given in (a for a in args if not a.startswith("-")):
        path = ctx.path(given)
        if path in files:
            out.append(files[path])
        elif path in dirs:
            err.append(f"cat: {given}: Is a directory\n")
        else:
            err.append(f"cat: {given}: No such file or directory\n")
    return ExecResult(stdout="".join(out), stderr="".join(err), exit_code=1 if err else 0)


def _dotnet(ctx: Inside, args: list[str]) -> ExecResult:
    """`dotnet exec App.dll --test-db`: the app's own check of the database its config names."""
    if "--test-db" not in args:
        return ExecResult(stderr="the sandbox's app answers only --test-db\n", exit_code=1)
    urls = [v for _, v in ctx.env() if v.startswith(("postgres://", "postgresql://"))]
    if not urls:
        return ExecResult(stderr="Database connection test: FAILED: no connection string "
                          "configured\n", exit_code=1)  # fmt: skip
    netloc = urls[0].split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    host, _, given = netloc.partition(":")
    target = ctx.resolve(host, _port(given) or 5432)
    if target is None or not target.up:
        why = "Name or service not known" if target is None else "Connection refused"
        return ExecResult(stderr=f"Database connection test: FAILED: Failed to connect to "
                          f"{host}:{_port(given) or 5432}: {why}\n", exit_code=1)  # fmt: skip
    return ExecResult(stdout=f"Database connection test: OK ({host}, PostgreSQL 15.4)\n")


def _env(ctx: Inside, args: list[str]) -> ExecResult:
    if args:
        return _not_found("env " + args[0])
    return ExecResult(stdout="".join(f"{name}={value}\n" for name, value in ctx.env()))


def _not_found(name: str) -> ExecResult:
    message = (
        "OCI runtime exec failed: exec failed: unable to start container process: "
        f'exec: "{name}": executable file not found in $PATH: unknown '
        "(command not found in sandbox)\n"
    )
    return ExecResult(stderr=message, exit_code=NOT_FOUND)


COMMANDS: dict[str, Command] = {
    "redis-cli": _redis_cli,
    "pg_isready": _pg_isready,
    "psql": _psql,
    "curl": _curl,
    "nc": _nc,
    "nslookup": _nslookup,
    "df": _df,
    "ls": _ls,
    "cat": _cat,
    "env": _env,
    "dotnet": _dotnet,
}


def run(cluster: Cluster, pod: PodRecord, argv: list[str]) -> ExecResult:
    """Run argv in the pod's container, as far as the sandbox can tell what it would print."""
    if not argv:
        return _not_found("")
    command = COMMANDS.get(posixpath.basename(argv[0]))
    if command is None:
        return _not_found(argv[0])
    try:
        return command(Inside(cluster, pod), list(argv[1:]))
    except (ValueError, IndexError) as exc:
        return ExecResult(stderr=f"{argv[0]}: {exc}\n", exit_code=2)
