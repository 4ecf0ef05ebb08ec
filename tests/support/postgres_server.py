"""A real PostgreSQL (Debian's package) on a free port, in a throwaway cluster directory.

PostgreSQL refuses to run as root, so when the tests run as root the cluster belongs to the
unprivileged `postgres` system user (or `nobody`) and its processes run as that user.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from glob import glob
from pathlib import Path

import pytest

from tests.support.redis_server import free_port
from tests.support.started import Started

# Generous: these only bound a hang on a loaded shared box, they are not performance checks.
_START_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 20.0

ROLE = "runbook"
DATABASE = "app"


def postgres_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin directory, or None when none is installed."""
    found = [Path(p).parent for p in glob("/usr/lib/postgresql/*/bin/initdb")]
    found = [d for d in found if (d / "postgres").exists() and (d / "psql").exists()]
    if not found:
        return None

    def version(d: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", d.parent.name)) or (0,)

    return max(found, key=version)


def require_postgres() -> Path:
    """PostgreSQL's bin directory; skips the calling test with the reason when it is missing."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (make test-deps installs postgresql)")
    return bin_dir


def _server_user() -> pwd.struct_passwd | None:
    """The user the cluster runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    pytest.skip("running as root and neither a `postgres` nor a `nobody` user exists")


class PostgresServer(Started):
    """A PostgreSQL cluster with a password-authenticated role and a database it owns."""

    def __init__(self) -> None:
        self.password = secrets.token_hex(12)
        self.port = 0
        self._bin: Path | None = None
        self._user: pwd.struct_passwd | None = None
        self._dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def socket_dir(self) -> str:
        assert self._dir is not None
        return str(self._dir)

    def url(self, database: str = DATABASE, *, password: str | None = None) -> str:
        """postgresql:// URL over TCP for the test role (scram-sha-256 password auth)."""
        secret = self.password if password is None else password
        return f"postgresql://{ROLE}:{secret}@127.0.0.1:{self.port}/{database}"

    @property
    def admin_dsn(self) -> str:
        """The superuser over the cluster's unix socket (trusted), for test setup and checks."""
        return f"postgresql://postgres@/postgres?host={self.socket_dir}&port={self.port}"

    def start(self) -> None:
        self._bin = require_postgres()
        self._user = _server_user()
        self._dir = Path(tempfile.mkdtemp(prefix="pg-test-"))
        try:
            self._initdb()
            self._start_server()
            self.sql(
                f"CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{self.password}'"
                " IN ROLE pg_monitor, pg_signal_backend",
                f"CREATE DATABASE {DATABASE} OWNER {ROLE}",
            )
        except BaseException:
            self.stop()
            raise

    def sql(self, *statements: str, database: str = "postgres") -> str:
        """Run statements as the superuser with psql; returns psql's unaligned output."""
        assert self._bin is not None
        args = [str(self._bin / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        args += ["-h", self.socket_dir, "-p", str(self.port), "-U", "postgres", "-d", database]
        for statement in statements:
            args += ["-c", statement]
        done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def create_database(self, name: str) -> str:
        """A fresh database owned by the test role; returns its URL."""
        self.sql(f"CREATE DATABASE {name} OWNER {ROLE}")
        return self.url(name)

    def _as_server_user(self, **kwargs: object) -> dict[str, object]:
        options: dict[str, object] = {"env": {**os.environ, "LC_ALL": "C"}, **kwargs}
        if self._user is not None:
            options.update(user=self._user.pw_uid, group=self._user.pw_gid, extra_groups=[])
        return options

    def _initdb(self) -> None:
        assert self._bin is not None and self._dir is not None
        if self._user is not None:
            os.chown(self._dir, self._user.pw_uid, self._user.pw_gid)
        pwfile = self._dir / "pwfile"
        pwfile.write_text(secrets.token_hex(12) + "\n")
        if self._user is not None:
            os.chown(pwfile, self._user.pw_uid, self._user.pw_gid)
        args = [
            str(self._bin / "initdb"),
            "-D", str(self._dir / "data"),
            "-U", "postgres",
            "--pwfile", str(pwfile),
            "--auth-local", "trust",
            "--auth-host", "scram-sha-256",
            "--encoding", "UTF8",
            "--no-locale",
            "--no-sync",
        ]  # fmt: skip
        options = self._as_server_user(capture_output=True, timeout=120, check=False)
        done = subprocess.run(args, **options)  # type: ignore[call-overload]
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.decode(errors='replace')[-2000:]}")

    def _start_server(self) -> None:
        assert self._bin is not None and self._dir is not None
        log_path = self._dir / "postgres.log"
        for _ in range(5):
            self.port = free_port()
            args = [
                str(self._bin / "postgres"),
                "-D", str(self._dir / "data"),
                "-h", "127.0.0.1",
                "-p", str(self.port),
                "-k", str(self._dir),
                "-c", "fsync=off",
                "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off",
                "-c", "max_connections=50",
            ]  # fmt: skip
            with log_path.open("ab") as log:
                options = self._as_server_user(stdout=log, stderr=subprocess.STDOUT)
                self._process = subprocess.Popen(args, **options)  # type: ignore[call-overload]
            if self._wait_ready():
                return
            self._terminate()
        tail = log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"postgres did not start:\n{tail}")

    def _wait_ready(self) -> bool:
        assert self._bin is not None
        deadline = time.monotonic() + _START_TIMEOUT_S
        probe = [str(self._bin / "pg_isready"), "-q", "-h", self.socket_dir, "-p", str(self.port)]
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            if _listening(self.port) and subprocess.run(probe, check=False).returncode == 0:
                return True
            time.sleep(0.1)
        return False

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        # SIGINT is PostgreSQL's "fast" shutdown: disconnect clients, then stop cleanly.
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop(self) -> None:
        """Stop the server and remove its cluster directory."""
        self._terminate()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False
