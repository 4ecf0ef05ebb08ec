"""The Dockerfile really builds, offline, and the image really runs the bot.

A minimal Debian base (tests/support/debian_base.py) stands in for the official Python image,
which no registry here can serve. The project's wheels are built on the host and put in the build
context, and `docker build` runs with no network, as the Dockerfile's offline recipe says.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.errors import BuildError, DockerException, ImageNotFound, NotFound

from tests.support.debian_base import debian_base_image
from tests.support.docker_engine import LABEL, DockerEngine, docker_engine_fixture  # noqa: F401
from tests.support.target_wheels import marker_environment, top_up

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
UID = 10001
# Builds and imports stream for minutes; the engine fixture's 10 s client would time out.
_CLIENT_TIMEOUT_S = 900
_READY_TIMEOUT_S = 60.0
# The HEALTHCHECK's interval is 15 s; three intervals leave room for a slow first probe.
_HEALTHY_TIMEOUT_S = 90.0
_STOP_TIMEOUT_S = 30
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

_PROBE_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN python3 -c "import socket; print('interfaces:', sorted(n for _, n in socket.if_nameindex()))"
"""

# Run as root inside the final image: what a build left behind that the image should not carry.
_LEFTOVERS_SCRIPT = """\
import json, os, shutil, sysconfig
skip = {"/proc", "/sys", "/dev"}
caches, wheels = [], []
for top, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(top, d) not in skip]
    if os.path.basename(top) == ".cache" and "pip" in dirs:
        caches.append(os.path.join(top, "pip"))
    wheels += [os.path.join(top, f) for f in files if f.endswith(".whl")]
print(json.dumps({
    "tools": [t for t in ("gcc", "cc", "c++", "make", "pip", "pip3") if shutil.which(t)],
    "pip_in_venv": os.path.isdir(os.path.join(sysconfig.get_paths()["purelib"], "pip")),
    "pip_caches": caches,
    "wheels": wheels,
    "sources": os.path.exists("/src"),
}))
"""


def _project_version() -> str:
    with (REPO / "pyproject.toml").open("rb") as handle:
        version: str = tomllib.load(handle)["project"]["version"]
    return version


def _build(client: docker.DockerClient, context: Path, **kwargs: Any) -> tuple[Any, str]:
    """images.build, offline unless told otherwise; the image and the build's output."""
    kwargs.setdefault("network_mode", "none")
    try:
        image, logs = client.images.build(
            path=str(context), rm=True, forcerm=True, nocache=True, **kwargs
        )
    except BuildError as exc:
        chunks = (chunk.get("stream", chunk.get("error", "")) for chunk in exc.build_log)
        output = "".join(str(chunk) for chunk in chunks)
        raise AssertionError(f"docker build failed: {exc.msg}\n{output[-3000:]}") from None
    return image, "".join(str(chunk.get("stream", "")) for chunk in logs)


def _remove_images(client: docker.DockerClient, base_id: str, since: float, *tags: str) -> None:
    """The tagged images, and the untagged stages built on our base after `since`."""
    for tag in tags:
        with contextlib.suppress(ImageNotFound):
            client.images.remove(tag, force=True)
    for image in client.images.list(filters={"dangling": True}):
        parent, created = image.attrs.get("Parent", ""), image.attrs.get("Created", "")
        chain = 0
        while parent and parent != base_id and chain < 100:
            try:
                parent = client.api.inspect_image(parent).get("Parent", "")
            except ImageNotFound:
                parent = ""
            chain += 1
        if parent == base_id and _epoch(created) >= since:
            with contextlib.suppress(DockerException):
                client.images.remove(image.id, force=True)


def _epoch(created: str) -> float:
    """The engine's RFC 3339 time to the second; 0 (never ours) when it does not parse."""
    try:
        return datetime.fromisoformat(created[:19]).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return 0.0


def _get(url: str) -> tuple[int, str]:
    try:
        with _NO_PROXY.open(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture(scope="module")
def client(docker_engine: DockerEngine) -> Iterator[docker.DockerClient]:
    engine_client = docker.DockerClient(base_url=docker_engine.url, timeout=_CLIENT_TIMEOUT_S)
    try:
        yield engine_client
    finally:
        engine_client.close()


@pytest.fixture(scope="module")
def base_image(client: docker.DockerClient) -> str:
    return debian_base_image(client)


@pytest.fixture(scope="module")
def context(
    client: docker.DockerClient,
    docker_engine: DockerEngine,
    base_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """The Dockerfile, .dockerignore and the project's wheels, built here on the host and topped
    up with what the base's own python3 needs besides (tests/support/target_wheels.py)."""
    folder = tmp_path_factory.mktemp("image-context")
    wheels = folder / "wheels"
    wheel = [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check"]
    result = subprocess.run(
        [*wheel, "--wheel-dir", str(wheels), f"{REPO}[postgres]"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"pip wheel failed:\n{result.stderr[-2000:]}")
    environment = marker_environment(client, base_image, labels={LABEL: docker_engine.run_id})
    top_up(wheels, "runbook-bot[postgres]", environment)
    for name in ("Dockerfile", ".dockerignore"):
        shutil.copy(REPO / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def image(
    client: docker.DockerClient, docker_engine: DockerEngine, base_image: str, context: Path
) -> Iterator[Any]:
    """The bot's image, built offline from the repository's Dockerfile on the Debian base."""
    tag = f"runbook-bot-test/bot:{docker_engine.run_id}"
    base_id = client.images.get(base_image).id
    since = time.time() - 5  # the engine's clock and ours may differ by a little
    try:
        built, _ = _build(
            client,
            context,
            tag=tag,
            buildargs={"BASE_IMAGE": base_image, "VERSION": _project_version()},
            labels={LABEL: docker_engine.run_id},
        )
        yield built
    finally:
        docker_engine.remove_all()
        _remove_images(client, base_id, since, tag)


def test_builds_get_no_network(
    client: docker.DockerClient, base_image: str, tmp_path: Path
) -> None:
    """network_mode="none" (as the image is built) leaves a RUN step only loopback; the default
    bridge, as a control, gives it an interface, so the probe can tell the two apart."""
    (tmp_path / "Dockerfile").write_text(_PROBE_DOCKERFILE)
    base_id = client.images.get(base_image).id
    since = time.time() - 5
    seen = {}
    try:
        for mode in ("none", "bridge"):
            _, output = _build(
                client, tmp_path, buildargs={"BASE_IMAGE": base_image}, network_mode=mode
            )
            lines = [line for line in output.splitlines() if line.startswith("interfaces:")]
            assert lines, output
            seen[mode] = lines[-1]
    finally:
        _remove_images(client, base_id, since)
    assert seen["none"] == "interfaces: ['lo']"
    assert seen["bridge"] != seen["none"]


def test_image_metadata(image: Any) -> None:
    config = image.attrs["Config"]
    assert config["Entrypoint"] == ["runbook-bot"]
    assert config["Cmd"] == ["socket"]
    assert config["User"] == f"{UID}:{UID}"
    assert "3000/tcp" in config["ExposedPorts"]
    assert "PYTHONUNBUFFERED=1" in config["Env"]
    assert "/healthz" in " ".join(config["Healthcheck"]["Test"])
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == "runbook-bot"
    assert labels["org.opencontainers.image.version"] == _project_version()


def test_serve_answers_healthz_as_non_root(
    client: docker.DockerClient, docker_engine: DockerEngine, image: Any
) -> None:
    name = docker_engine.name("image-serve")
    container = client.containers.run(
        image.id,
        ["serve"],
        name=name,
        detach=True,
        labels={LABEL: docker_engine.run_id},
        # Dummy credentials: serve needs them set; nothing here talks to Slack.
        environment={
            "SLACK_BOT_TOKEN": "xoxb-image-test",
            "SLACK_SIGNING_SECRET": "image-test-secret",
            "SLACK_API_URL": "http://127.0.0.1:9/api/",
        },
        ports={"3000/tcp": ("127.0.0.1", None)},
    )
    try:
        port = docker_engine.host_port(name, "3000/tcp")
        deadline = time.monotonic() + _READY_TIMEOUT_S
        answer: tuple[int, str] | None = None
        while answer is None or answer[0] != 200:
            container.reload()
            if container.status == "exited" or time.monotonic() > deadline:
                logs = container.logs().decode(errors="replace")
                raise AssertionError(f"no /healthz ({container.status}, {answer}):\n{logs}")
            with contextlib.suppress(OSError):
                answer = _get(f"http://127.0.0.1:{port}/healthz")
            time.sleep(0.5)
        assert answer == (200, "ok")
        # The embedded store answers but Slack (a closed port) does not: not ready, and says so.
        assert _get(f"http://127.0.0.1:{port}/readyz")[0] == 503

        # The bot itself, PID 1, runs as the image's user, not root.
        status = container.exec_run(["cat", "/proc/1/status"]).output.decode()
        uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
        assert uids == [str(UID)] * 4

        # The playbooks it serves are the ones bundled into the installed wheel.
        lint = container.exec_run(["runbook-bot", "lint"])
        assert lint.exit_code == 0, lint.output
        assert "/site-packages/bot/_bundled/playbooks: all playbooks valid" in lint.output.decode()

        attrs = docker_engine.wait_until(
            name,
            lambda a: a["State"].get("Health", {}).get("Status") in ("healthy", "unhealthy"),
            timeout=_HEALTHY_TIMEOUT_S,
        )
        assert attrs["State"]["Health"]["Status"] == "healthy", attrs["State"]["Health"]

        # `docker stop` signals PID 1, the bot itself: it shuts down cleanly, not by SIGKILL (137).
        container.stop(timeout=_STOP_TIMEOUT_S)
        container.reload()
        assert container.attrs["State"]["ExitCode"] == 0, container.logs().decode(errors="replace")
    finally:
        with contextlib.suppress(NotFound):
            container.remove(force=True)


def test_default_command_is_socket_mode(
    client: docker.DockerClient, docker_engine: DockerEngine, image: Any
) -> None:
    """With no arguments the image runs `runbook-bot socket`, which names the missing token in
    one line rather than a traceback."""
    name = docker_engine.name("image-socket")
    container = client.containers.run(
        image.id,
        name=name,
        detach=True,
        labels={LABEL: docker_engine.run_id},
        environment={"SLACK_BOT_TOKEN": "xoxb-image-test"},
        network_mode="none",
    )
    try:
        assert container.wait(timeout=60)["StatusCode"] == 1
        lines = container.logs().decode(errors="replace").strip().splitlines()
        assert len(lines) == 1, lines
        assert "SLACK_APP_TOKEN is not set" in lines[0]
    finally:
        with contextlib.suppress(NotFound):
            container.remove(force=True)


def _leftovers(client: docker.DockerClient, docker_engine: DockerEngine, image: str) -> Any:
    output = client.containers.run(
        image,
        ["-c", _LEFTOVERS_SCRIPT],
        entrypoint=["python3"],
        user="root",
        labels={LABEL: docker_engine.run_id},
        network_mode="none",
        remove=True,
    )
    return json.loads(output.decode().strip().splitlines()[-1])


def test_final_image_has_no_build_leftovers(
    client: docker.DockerClient, docker_engine: DockerEngine, base_image: str, image: Any
) -> None:
    """Nothing beyond what the base itself ships (Debian's python3-venv carries pip's wheel)."""
    base = _leftovers(client, docker_engine, base_image)
    final = _leftovers(client, docker_engine, image.id)
    assert "gcc" not in final["tools"]
    for key in ("tools", "pip_caches", "wheels"):
        assert set(final[key]) - set(base[key]) == set(), key
    assert final["pip_in_venv"] is False
    assert final["sources"] is False
