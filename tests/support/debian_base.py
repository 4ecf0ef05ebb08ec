"""A minimal Debian base image with python3, made by debootstrap and `docker import`.

No image registry is reachable here, but Debian's mirror is: debootstrap makes the root, we tar it
and import it. Both steps are cached, since the first takes a minute or more: the tarball in
~/.cache/runbook-bot/ (keyed by what goes into it, never by date) and the image in the engine
under a tag with the same key. Skips with the reason when debootstrap is missing, cannot run, or
the mirror cannot be reached.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker.errors import ImageNotFound

SUITE = "bookworm"
VARIANT = "minbase"
# python3-venv: Debian's python3 has no ensurepip without it, so `python3 -m venv` would fail.
INCLUDE = ("python3", "python3-venv", "ca-certificates")
MIRROR = "http://deb.debian.org/debian"
REPOSITORY = "runbook-bot-test-base"
# Marks the cached base, so it is told apart from what a test run removes.
BASE_LABEL = "runbook-bot-test-base"
_DEBOOTSTRAP_TIMEOUT_S = 900.0
_MIRROR_TIMEOUT_S = 15.0
_NETWORK_SIGNS = (
    "failed getting release file",
    "couldn't download",
    "temporary failure in name resolution",
    "could not resolve",
    "connection refused",
    "network is unreachable",
)


def cache_dir() -> Path:
    """Where the tarball is kept between runs: $XDG_CACHE_HOME or ~/.cache, then runbook-bot/."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "runbook-bot"


def content_key() -> str:
    """Names the root by what is in it, so a changed package list never reuses a stale one."""
    recipe = "|".join((SUITE, VARIANT, ",".join(sorted(INCLUDE)), MIRROR))
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def image_tag() -> str:
    return f"{REPOSITORY}:{SUITE}-{content_key()}"


def tarball_path() -> Path:
    return cache_dir() / f"debian-{SUITE}-{VARIANT}-{content_key()}.tar"


def _debootstrap_binary() -> str:
    found = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None
    )
    if found is None:
        pytest.skip("debootstrap is not installed (make test-deps installs it)")
    if os.geteuid() != 0:
        pytest.skip("debootstrap needs root to make the Debian base image")
    return found


def _mirror_problem() -> str | None:
    """Why the mirror cannot serve the suite, or None; checked before a long debootstrap."""
    url = f"{MIRROR}/dists/{SUITE}/Release"
    try:
        with urllib.request.urlopen(url, timeout=_MIRROR_TIMEOUT_S) as response:
            response.read(1)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"Debian mirror unreachable ({url}: {reason})"
    return None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One maker at a time per cache folder, so concurrent runs do not debootstrap twice."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _make_tarball(target: Path) -> None:
    """debootstrap into a temp dir next to the cache, tar it, and move it into place."""
    debootstrap = _debootstrap_binary()
    problem = _mirror_problem()
    if problem:
        pytest.skip(problem)
    work = Path(tempfile.mkdtemp(prefix="debootstrap-", dir=target.parent))
    try:
        root = work / "root"
        args = [debootstrap, f"--variant={VARIANT}", f"--include={','.join(INCLUDE)}"]
        result = subprocess.run(
            [*args, SUITE, str(root), MIRROR],
            capture_output=True,
            text=True,
            timeout=_DEBOOTSTRAP_TIMEOUT_S,
            check=False,
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            tail = output[-600:]
            if any(sign in output.lower() for sign in _NETWORK_SIGNS):
                pytest.skip(f"debootstrap could not download from {MIRROR}: {tail}")
            raise AssertionError(f"debootstrap failed (exit {result.returncode}):\n{tail}")
        # The downloaded .debs and package lists are a third of the root and no use in an image.
        for folder in (root / "var/cache/apt/archives", root / "var/lib/apt/lists"):
            for entry in folder.glob("*"):
                if entry.is_file():
                    entry.unlink()
        partial = work / "root.tar"
        subprocess.run(
            ["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(partial), "."],
            check=True,
            capture_output=True,
        )
        partial.replace(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def debian_tarball() -> Path:
    """The cached root tarball; made (once, under a lock) when it is not there yet."""
    target = tarball_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent / ".debootstrap.lock"):
        if not target.exists():
            _make_tarball(target)
    return target


def debian_base_image(client: docker.DockerClient) -> str:
    """Tag of the base image in this engine: the one already there, else imported now."""
    tag = image_tag()
    with contextlib.suppress(ImageNotFound):
        client.images.get(tag)
        return tag
    tarball = debian_tarball()
    repository, version = tag.rsplit(":", 1)
    client.api.import_image_from_file(
        str(tarball),
        repository=repository,
        tag=version,
        changes=[f"LABEL {BASE_LABEL}={content_key()}", 'CMD ["/bin/bash"]'],
    )
    client.images.get(tag)  # ImageNotFound here means the import said nothing and did nothing
    return tag
