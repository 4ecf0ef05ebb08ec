"""The real control plane for the whole session, and the bot's executor pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.executors.kubernetes import KubernetesExecutor
from cluster.control_plane import ControlPlane, ControlPlaneError
from tests.support.real_cluster import Cluster


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """etcd, kube-apiserver and kube-controller-manager, built on first use (many minutes)."""
    plane = ControlPlane(tmp_path_factory.mktemp("control-plane"))
    try:
        plane.start()
    except ControlPlaneError as error:
        # Never a skip: this lane is the proof against the real API server.
        pytest.fail(f"the real control plane did not start: {error}")
    yield plane
    plane.stop()


@pytest.fixture(scope="session")
def cluster(control_plane: ControlPlane) -> Cluster:
    return Cluster(control_plane.kubeconfig)


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    name = cluster.new_namespace()
    yield name
    cluster.delete_namespace(name)


@pytest.fixture
async def executor(control_plane: ControlPlane) -> AsyncIterator[KubernetesExecutor]:
    ex = KubernetesExecutor(str(control_plane.kubeconfig))
    yield ex
    await ex.close()
