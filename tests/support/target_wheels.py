"""Wheels resolved on the host, topped up for another interpreter's environment markers.

`pip wheel` resolves for the Python that runs it: the host's 3.11.7 skips redis's
`async-timeout; python_full_version < "3.11.3"`, which Debian bookworm's 3.11.2 needs, and an
offline `pip install --no-index` in the image then finds nothing to satisfy it. So we read the
target's marker environment from its own python3 and download, from the host, each wheel the
target needs that the folder lacks.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import docker
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

# The same keys as packaging.markers.default_environment(), computed by the target's python3
# (which has no `packaging` of its own).
_ENVIRONMENT_SCRIPT = """\
import json, os, platform, sys
iv = sys.implementation.version
version = f"{iv.major}.{iv.minor}.{iv.micro}"
if iv.releaselevel != "final":
    version += iv.releaselevel[0] + str(iv.serial)
print(json.dumps({
    "implementation_name": sys.implementation.name,
    "implementation_version": version,
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}))
"""
_MAX_ROUNDS = 10


def marker_environment(client: docker.DockerClient, image: str, **run: object) -> dict[str, str]:
    """The environment markers of `image`'s python3, from a throwaway offline container."""
    output = client.containers.run(
        image,
        ["python3", "-c", _ENVIRONMENT_SCRIPT],
        network_mode="none",
        remove=True,
        **run,
    )
    found: dict[str, str] = json.loads(output.decode().strip().splitlines()[-1])
    return found


def _metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return Parser().parsestr(archive.read(name).decode("utf-8"))


def missing_requirements(
    folder: Path, root: str, environment: dict[str, str]
) -> dict[NormalizedName, Requirement]:
    """What `root` needs under `environment`, transitively, that no wheel in `folder` provides."""
    present: dict[NormalizedName, Message] = {}
    for wheel in folder.glob("*.whl"):
        meta = _metadata(wheel)
        present[canonicalize_name(meta["Name"])] = meta
    top = Requirement(root)
    wanted: dict[NormalizedName, set[str]] = {canonicalize_name(top.name): set(top.extras)}
    queue = list(wanted)
    missing: dict[NormalizedName, Requirement] = {}
    while queue:
        name = queue.pop()
        if name not in present:
            continue
        extras = wanted[name] | {""}
        for line in present[name].get_all("Requires-Dist") or []:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker and not any(marker.evaluate({**environment, "extra": e}) for e in extras):
                continue
            needed = canonicalize_name(requirement.name)
            known = wanted.get(needed)
            if known is None or not set(requirement.extras) <= known:
                wanted[needed] = (known or set()) | set(requirement.extras)
                queue.append(needed)
            if needed not in present:
                missing.setdefault(needed, requirement)
    return missing


def top_up(folder: Path, root: str, environment: dict[str, str]) -> list[str]:
    """Downloads binary wheels for what the target lacks; returns the requirements fetched."""
    fetched: list[str] = []
    for _ in range(_MAX_ROUNDS):
        missing = missing_requirements(folder, root, environment)
        if not missing:
            return fetched
        for requirement in missing.values():
            spec = f"{requirement.name}{requirement.specifier}"
            command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
            command += ["--only-binary=:all:", "--dest", str(folder), spec]
            result = subprocess.run(command, capture_output=True, text=True, timeout=300)
            if result.returncode != 0:
                raise AssertionError(f"pip download {spec} failed:\n{result.stderr[-1500:]}")
            fetched.append(spec)
    raise AssertionError(f"wheels for {root} still incomplete after {_MAX_ROUNDS} rounds")
