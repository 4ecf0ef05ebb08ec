"""A real Docker engine for tests, and a tiny busybox image built without a registry.

The engine is the one DOCKER_HOST (or /var/run/docker.sock) answers on, else our own `dockerd`
in a temp dir. Everything the tests create carries the label `runbook-bot-test=<run id>` and is
removed at the end.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.errors import DockerException, NotFound

LABEL = "runbook-bot-test"
DOCKERD = "/usr/sbin/dockerd"
BUSYBOX = "/bin/busybox"
_APPLETS = (
    "sh", "httpd", "sleep", "echo", "cat", "dd", "tail", "env", "ls", "touch", "true", "false",
    "wget", "grep", "head", "yes", "mkdir", "rm", "ps", "id",
)  # fmt: skip
HEALTH_BODY = b'{"status": "healthy", "dependencies": {"cache": "up"}}\n'
_START_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 20.0


def _own_dockerd_problem() -> str | None:
    """Why we cannot start a dockerd of our own here, or None."""
    if not Path(DOCKERD).exists():
        return f"no Docker engine answers and {DOCKERD} is missing (make test-deps installs it)"
    if os.geteuid() != 0:
        return "no Docker engine answers and starting dockerd needs root"
    return None


class DockerEngine:
    """A reachable engine, our own dockerd if need be, plus the test image and its cleanup."""

    def __init__(self) -> None:
        self.run_id = uuid.uuid4().hex[:8]
        self.url = ""
        self.client: docker.DockerClient | None = None
        self.image = f"runbook-bot-test/busybox:{self.run_id}"
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        try:
            client = docker.from_env(timeout=10)
            client.ping()
            self.client = client
            self.url = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        except DockerException:
            self._start_dockerd()
        try:
            self._import_image()
        except BaseException:
            self.stop()
            raise

    def _start_dockerd(self) -> None:
        problem = _own_dockerd_problem()
        if problem:
            pytest.skip(problem)
        # Short: a unix socket path is limited to 108 bytes.
        self._dir = Path(tempfile.mkdtemp(prefix="rbd-", dir="/tmp"))
        self.url = f"unix://{self._dir}/docker.sock"
        log = (self._dir / "dockerd.log").open("wb")
        args = [DOCKERD, "--host", self.url, "--pidfile", str(self._dir / "pid")]
        args += ["--data-root", str(self._dir / "data"), "--exec-root", str(self._dir / "exec")]
        self._process = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                tail = self.log_tail()
                self.stop()
                reason = "permission denied" if "permission denied" in tail.lower() else "exited"
                pytest.skip(f"dockerd could not start ({reason}): {tail[-300:]}")
            if (self._dir / "docker.sock").exists():
                try:
                    client = docker.DockerClient(base_url=self.url, timeout=10)
                    client.ping()
                    self.client = client
                    return
                except DockerException:
                    pass
            time.sleep(0.2)
        tail = self.log_tail()
        self.stop()
        raise RuntimeError(f"dockerd did not answer within {_START_TIMEOUT_S:g}s:\n{tail}")

    def log_tail(self) -> str:
        if self._dir is None or not (self._dir / "dockerd.log").exists():
            return ""
        return (self._dir / "dockerd.log").read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        """Remove what the tests made; stop our own dockerd and delete its data."""
        if self.client is not None:
            self.remove_all()
            if self._process is None:
                with contextlib.suppress(DockerException):
                    self.client.images.remove(self.image, force=True)
            self.client.close()
            self.client = None
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    # --- the image ---------------------------------------------------------------------

    def _import_image(self) -> None:
        """A rootfs tar with a static busybox and a /www health document, via `docker import`."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for folder, mode in (("bin", 0o755), ("www", 0o755), ("tmp", 0o1777), ("etc", 0o755)):
                info = tarfile.TarInfo(folder)
                info.type, info.mode = tarfile.DIRTYPE, mode
                tar.addfile(info)
            tar.add(BUSYBOX, arcname="bin/busybox")
            for applet in _APPLETS:
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type, link.linkname, link.mode = tarfile.SYMTYPE, "busybox", 0o777
                tar.addfile(link)
            for path, body in (
                ("www/health", HEALTH_BODY),
                ("www/index.html", b"<h1>ok</h1>\n"),
                ("etc/passwd", b"root:x:0:0:root:/:/bin/sh\n"),
            ):
                info = tarfile.TarInfo(path)
                info.size, info.mode = len(body), 0o644
                tar.addfile(info, io.BytesIO(body))
        repository, tag = self.image.rsplit(":", 1)
        self.docker.api.import_image_from_data(
            buffer.getvalue(), repository=repository, tag=tag, changes=[f"LABEL {LABEL}=1"]
        )

    # --- containers ----------------------------------------------------------------------

    @property
    def docker(self) -> docker.DockerClient:
        assert self.client is not None, "engine not started"
        return self.client

    def name(self, what: str) -> str:
        """A container name unique to this run."""
        return f"rbt-{self.run_id}-{what}"

    def run(
        self, what: str, command: list[str], *, labels: dict[str, str] | None = None, **kwargs: Any
    ) -> Any:
        """Start a labelled container of the test image; returns the SDK's Container."""
        return self.docker.containers.run(
            self.image,
            command,
            name=kwargs.pop("name", None) or self.name(what),
            labels={LABEL: self.run_id, **(labels or {})},
            detach=True,
            **kwargs,
        )

    def attrs(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.docker.api.inspect_container(name)
        return found

    def wait_until(
        self, name: str, ready: Callable[[dict[str, Any]], bool], timeout: float = 60.0
    ) -> dict[str, Any]:
        """Inspect until `ready(attrs)`; fails the test with the last state otherwise."""
        deadline = time.monotonic() + timeout
        attrs = self.attrs(name)
        while not ready(attrs):
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} never got ready: {attrs.get('State')}")
            time.sleep(0.2)
            attrs = self.attrs(name)
        return attrs

    def host_port(self, name: str, port: str = "8080/tcp") -> int:
        attrs = self.wait_until(
            name, lambda a: bool((a["NetworkSettings"]["Ports"] or {}).get(port))
        )
        return int(attrs["NetworkSettings"]["Ports"][port][0]["HostPort"])

    def labelled(self, **labels: str) -> list[str]:
        """Names of this run's containers that carry all these labels."""
        wanted = [f"{LABEL}={self.run_id}", *(f"{k}={v}" for k, v in labels.items())]
        found = self.docker.containers.list(all=True, filters={"label": wanted})
        return sorted(c.name for c in found)

    def remove_all(self) -> None:
        for container in self.docker.containers.list(
            all=True, filters={"label": f"{LABEL}={self.run_id}"}
        ):
            with contextlib.suppress(NotFound):
                container.remove(force=True)


_shared: list[DockerEngine] = []
_users = 0


@pytest.fixture(scope="session", name="docker_engine")
def docker_engine_fixture() -> Iterator[DockerEngine]:
    """`docker_engine`: one engine for the session, shared by every module that imports it."""
    global _users
    if not _shared:
        engine = DockerEngine()
        engine.start()
        _shared.append(engine)
    _users += 1
    try:
        yield _shared[0]
    finally:
        _users -= 1
        if _users == 0:
            _shared.pop().stop()
