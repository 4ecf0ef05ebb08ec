"""A real Kubernetes control plane on loopback: etcd, kube-apiserver and kube-controller-manager.

Built from source through the Go module proxy (the module beside this file pins one release), once
per machine: the binaries land in `.cluster/bin/` and the Go caches keep a rebuild cheap. There is
no kubelet and no scheduler: pods stay unscheduled, and tests stage a pod's status (a crash loop, an
OOM kill, readiness) through the `status` subresource, as a kubelet would report it.

`python -m cluster.control_plane up|down|build` backs `make cluster` and `make cluster-down`; the
tests use `ControlPlane` directly through a session fixture.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MODULE_DIR = Path(__file__).resolve().parent
REPO = MODULE_DIR.parent
BIN_DIR = REPO / ".cluster" / "bin"
STATE_DIR = REPO / ".cluster" / "state"
# (binary name, Go package) — built together so they share one compile of the common packages.
BINARIES = (
    ("etcd", "go.etcd.io/etcd/server/v3"),
    ("kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver"),
    ("kube-controller-manager", "k8s.io/kubernetes/cmd/kube-controller-manager"),
)
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
# A fresh machine compiles Kubernetes from nothing; on two cores that takes many minutes.
_BUILD_TIMEOUT_S = 3600.0
_START_TIMEOUT_S = 120.0
_STOP_TIMEOUT_S = 20.0


class ControlPlaneError(RuntimeError):
    """The control plane could not be built or started; the message says which step and why."""


def kubernetes_release() -> str:
    """The k8s.io/kubernetes version the Go module pins, e.g. 'v1.37.2'."""
    for line in (MODULE_DIR / "go.mod").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[-2] == "k8s.io/kubernetes" and parts[-1].startswith("v1."):
            return parts[-1]
    raise ControlPlaneError("cluster/go.mod does not require k8s.io/kubernetes")


def _sources_digest() -> str:
    digest = hashlib.sha256(_version_ldflags().encode())
    for name in ("go.mod", "go.sum"):
        digest.update((MODULE_DIR / name).read_bytes())
    return digest.hexdigest()


def _version_ldflags() -> str:
    """The version stamp Kubernetes' own build sets, so /version and kubectl see the release."""
    release = kubernetes_release()
    major, minor = release.removeprefix("v").split(".")[:2]
    stamps = {"gitVersion": release, "gitMajor": major, "gitMinor": minor, "gitTreeState": "clean"}
    flags = [
        f"-X {package}.{name}={value}"
        for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
        for name, value in stamps.items()
    ]
    return " ".join(flags)


def build(bin_dir: Path = BIN_DIR, *, log: Path | None = None) -> float:
    """Build the binaries unless the ones there came from the same go.mod/go.sum; seconds spent."""
    stamp = bin_dir / ".sources"
    wanted = _sources_digest()
    present = all((bin_dir / name).exists() for name, _ in BINARIES)
    if present and stamp.exists() and stamp.read_text() == wanted:
        return 0.0
    go = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None
    )
    if go is None:
        raise ControlPlaneError("building the control plane needs Go (go is not on PATH)")
    bin_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    packages = [package for _, package in BINARIES]
    out = subprocess.run(
        [
            go,
            "build",
            "-trimpath",
            "-ldflags",
            _version_ldflags(),
            "-o",
            str(bin_dir) + "/",
            *packages,
        ],
        cwd=MODULE_DIR,
        capture_output=True,
        text=True,
        timeout=_BUILD_TIMEOUT_S,
        env={**os.environ, "GOFLAGS": "-mod=mod -buildvcs=false"},
    )
    if out.returncode != 0:
        raise ControlPlaneError(f"go build failed:\n{out.stderr[-4000:]}")
    # Go names a binary after the last path element that is not a major version ("server").
    built_etcd = bin_dir / "server"
    if built_etcd.exists():
        built_etcd.replace(bin_dir / "etcd")
    stamp.write_text(wanted)
    elapsed = time.monotonic() - started
    if log is not None:
        log.write_text(f"{elapsed:.0f}\n")
    return elapsed


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _openssl(*args: str, cwd: Path) -> None:
    out = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        raise ControlPlaneError(f"openssl {args[0]} failed: {out.stderr.strip()[-500:]}")


def make_certificates(pki: Path) -> None:
    """A CA, the API server's serving certificate, an admin client certificate, a SA key pair."""
    pki.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "30", "-subj", "/CN=runbook-bot-test-ca", cwd=pki,
    )  # fmt: skip
    (pki / "serving.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc\n"
    )
    (pki / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, subject, ext in (
        ("apiserver", "/CN=kube-apiserver", "serving.ext"),
        ("admin", "/O=system:masters/CN=kubernetes-admin", "client.ext"),
    ):
        _openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
            f"{name}.csr", "-subj", subject, cwd=pki,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "30", "-extfile", ext, cwd=pki,
        )  # fmt: skip
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


def kubeconfig_text(server: str, pki: Path, *, token: str | None = None) -> str:
    """A kubeconfig for the cluster: the admin certificate, or a bearer token when given."""
    user: dict[str, str] = (
        {"token": token}
        if token is not None
        else {
            "client-certificate": str(pki / "admin.crt"),
            "client-key": str(pki / "admin.key"),
        }
    )
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "runbook-bot-test",
                "cluster": {"server": server, "certificate-authority": str(pki / "ca.crt")},
            }
        ],
        "users": [{"name": "user", "user": user}],
        "contexts": [{"name": "test", "context": {"cluster": "runbook-bot-test", "user": "user"}}],
        "current-context": "test",
    }
    # JSON is YAML, and every kubeconfig reader (client, kubectl) takes it.
    return json.dumps(config, indent=2) + "\n"


@dataclass
class ControlPlane:
    """etcd, kube-apiserver and kube-controller-manager started in `state`, stopped by stop()."""

    state: Path
    bin_dir: Path = BIN_DIR
    server: str = ""
    etcd_url: str = ""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def pki(self) -> Path:
        return self.state / "pki"

    @property
    def kubeconfig(self) -> Path:
        return self.state / "kubeconfig"

    def start(self) -> ControlPlane:
        build(self.bin_dir)
        if shutil.which("openssl") is None:
            raise ControlPlaneError("the control plane's certificates need openssl")
        self.state.mkdir(parents=True, exist_ok=True)
        make_certificates(self.pki)
        try:
            self._start_etcd()
            self._start_apiserver()
            self.kubeconfig.write_text(kubeconfig_text(self.server, self.pki))
            self._start_controller_manager()
            self._wait_for_default_service_account()
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, args: list[str]) -> None:
        log = (self.state / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            [str(self.bin_dir / name), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        (self.state / f"{name}.pid").write_text(str(self.processes[name].pid))

    def log_tail(self, name: str) -> str:
        path = self.state / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def _check_alive(self, name: str) -> None:
        process = self.processes[name]
        if process.poll() is not None:
            raise ControlPlaneError(
                f"{name} exited with {process.returncode}:\n{self.log_tail(name)}"
            )

    def _start_etcd(self) -> None:
        client, peer = free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{client}"
        self._spawn(
            "etcd",
            [
                "--name=default",
                f"--data-dir={self.state / 'etcd'}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=default=http://127.0.0.1:{peer}",
                # A throwaway store: durability costs seconds per write on a shared disk.
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )
        self._wait("etcd", lambda: _http_ok(f"{self.etcd_url}/health"))

    def _start_apiserver(self) -> None:
        port = free_port()
        self.server = f"https://127.0.0.1:{port}"
        pki = self.pki
        self._spawn(
            "kube-apiserver",
            [
                f"--etcd-servers={self.etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={port}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--authorization-mode=RBAC",
                # A loopback address cannot be published as the `kubernetes` service endpoint.
                "--endpoint-reconciler-type=none",
                "--allow-privileged=true",
                f"--cert-dir={self.state / 'certs'}",
                "--v=0",
            ],
        )
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        self._wait("kube-apiserver", lambda: _http_ok(f"{self.server}/readyz", context))

    def _start_controller_manager(self) -> None:
        pki = self.pki
        self._spawn(
            "kube-controller-manager",
            [
                f"--kubeconfig={self.kubeconfig}",
                "--leader-elect=false",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                f"--cert-dir={self.state / 'kcm-certs'}",
                # Tests wait on the autoscaler; its default 15 s sync would dominate them.
                "--horizontal-pod-autoscaler-sync-period=2s",
                "--v=0",
            ],
        )

    def _wait_for_default_service_account(self) -> None:
        """The controller manager is working once it made the `default` namespace's account."""
        pki = self.pki
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        url = f"{self.server}/api/v1/namespaces/default/serviceaccounts/default"
        self._wait("kube-controller-manager", lambda: _http_ok(url, context))

    def _wait(self, name: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            self._check_alive(name)
            if ready():
                return
            time.sleep(0.2)
        raise ControlPlaneError(
            f"{name} did not become ready within {_START_TIMEOUT_S:g}s:\n{self.log_tail(name)}"
        )

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            _terminate(self.processes[name])
            (self.state / f"{name}.pid").unlink(missing_ok=True)
        self.processes.clear()


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=_STOP_TIMEOUT_S)


def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2.0, context=context) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _down(state: Path) -> None:
    for pid_file in sorted(state.glob("*.pid")):
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
        pid_file.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cluster.control_plane", description=__doc__)
    parser.add_argument("command", choices=("build", "up", "down"))
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            seconds = build()
            print(f"built {kubernetes_release()} in {seconds:.0f} s" if seconds else "up to date")
        elif args.command == "up":
            _down(STATE_DIR)
            shutil.rmtree(STATE_DIR, ignore_errors=True)
            plane = ControlPlane(STATE_DIR).start()
            # The processes outlive this command (their own sessions); `down` stops them.
            plane.processes.clear()
            kubeconfig = REPO / ".cluster" / "kubeconfig"
            shutil.copy(plane.kubeconfig, kubeconfig)
            print(f"Kubernetes {kubernetes_release()} at {plane.server}")
            print(f"export KUBECONFIG={kubeconfig}")
        else:
            _down(STATE_DIR)
            print("control plane stopped")
    except ControlPlaneError as error:
        print(f"cluster: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
