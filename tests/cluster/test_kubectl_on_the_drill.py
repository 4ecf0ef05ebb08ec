"""The real kubectl reads the drill server as it reads the real API server.

A drill scenario is mirrored onto the real control plane (tests/support/mirror.py); the same kubectl
commands then run against both and their output must agree once generated names are masked and
ages (the drill backdates its objects) are left out. kubectl needs TLS to send its token,
discovery to find a resource, and server-side Table printing for `get`'s columns: each is a way
the drill server used to differ.
"""

from __future__ import annotations

import difflib
import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.drills.kubernetes import Sandbox
from tests.support.mirror import cleanup, masked, mirror
from tests.support.real_cluster import KUBECTL, Cluster, differences

SCENARIO = "oom-bad-deploy"
_AGO = re.compile(r"\(\d[\dsmhdy]* ago\)")
Obj = dict[str, Any]
_TEMPLATE_HASH = re.compile(r"pod-template-hash=[a-z0-9]+")


@dataclass
class Both:
    sandbox: Sandbox
    kubeconfig: Path
    cache: Path
    real: Cluster
    namespace: str
    pods: dict[str, str]

    def drill(self, *args: str) -> str:
        command = [KUBECTL, f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache}"]
        out = subprocess.run([*command, *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, f"kubectl {' '.join(args)} on the drill: {out.stderr.strip()}"
        return out.stdout

    def mirrored(self, *args: str) -> str:
        return self.real.kubectl(*args, namespace=self.namespace)

    def same(self, *args: str) -> None:
        """The command prints the same on both, names masked; the diff when it does not."""
        drill, real = self.neutral(self.drill(*args)), self.neutral(self.mirrored(*args))
        diff = difflib.unified_diff(real.splitlines(), drill.splitlines(), "real", "drill")
        assert drill == real, "\n".join(diff)

    def neutral(self, text: str) -> str:
        """Generated names and template hashes masked, as `masked` leaves a label's value."""
        return _TEMPLATE_HASH.sub("pod-template-hash=<hash>", masked(text, self.namespace))


@pytest.fixture(scope="module")
def both(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Both]:
    sandbox = Sandbox.start(SCENARIO, ready_delay=0.0)
    folder = tmp_path_factory.mktemp("kubectl-drill")
    kubeconfig = sandbox.write_kubeconfig(folder / "kubeconfig")
    namespace = cluster.new_namespace("kubectl")
    drill = Cluster(kubeconfig)
    try:
        pods = mirror(drill, cluster, namespace)
        yield Both(sandbox, kubeconfig, folder / "cache", cluster, namespace, pods)
    finally:
        cleanup(drill, cluster)
        cluster.delete_namespace(namespace)
        sandbox.stop()


def rows(output: str, both: Both, *, without: tuple[str, ...] = ("AGE",)) -> list[Obj]:
    """A kubectl table as {column: cell} rows, cut at the header's columns, ages left out."""
    lines = [line for line in output.splitlines() if line.strip()]
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"\S+(?: \S+)*", header)]
    names = [header[s:e].strip() for s, e in zip(starts, [*starts[1:], None], strict=True)]
    table = []
    for line in lines[1:]:
        cells = [line[s:e].strip() for s, e in zip(starts, [*starts[1:], None], strict=True)]
        row = {n: _AGO.sub("(<age> ago)", c) for n, c in zip(names, cells, strict=True)}
        table.append({n: both.neutral(c) for n, c in row.items() if n not in without})
    return sorted(table, key=lambda r: json.dumps(r, sort_keys=True))


# The mirror copies the scenario's deployment and bare pods; the dependencies' StatefulSet pods
# (postgres-0, redis-0, kafka-0) stay on the drill, so the comparisons select the app.
APP = "--selector=app=ecap-api"


def test_kubectl_get_pods(both: Both) -> None:
    drill, real = both.drill("get", "pods", APP), both.mirrored("get", "pods", APP)
    assert drill.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert rows(drill, both) == rows(real, both)
    wide = ("get", "pods", APP, "-o", "wide")
    assert rows(both.drill(*wide), both) == rows(both.mirrored(*wide), both)


def test_kubectl_get_deployments_and_replicasets(both: Both) -> None:
    for kind in ("deployments", "replicasets"):
        for wide in ((), ("-o", "wide")):
            command = ("get", kind, APP, *wide)
            assert rows(both.drill(*command), both) == rows(both.mirrored(*command), both), kind


def test_kubectl_rollout_history(both: Both) -> None:
    command = ("rollout", "history", "deployment/ecap-api")
    both.same(*command)
    for number in ("1", "2", "3"):
        both.same(*command, f"--revision={number}")


_STAMP = re.compile(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000")
_TOKEN_VOLUME = re.compile(r"kube-api-access-\w{5}")


def test_kubectl_describe_pod(both: Both) -> None:
    drill_pod = sorted(p for p in both.pods if p.startswith("ecap-api-"))[0]

    def described(text: str) -> str:
        # Named difference: the mirror copies the drill's pod events without the twin pod's uid,
        # and describe selects events by uid, so the real side lists none (events are compared
        # in test_kubectl_get_events). Start and finish times are the drill's clock.
        text = text.split("\nEvents:")[0]
        return _TOKEN_VOLUME.sub("kube-api-access-<id>", _STAMP.sub("<time>", both.neutral(text)))

    drill = described(both.drill("describe", "pod", drill_pod))
    real = described(both.mirrored("describe", "pod", both.pods[drill_pod]))
    diff = difflib.unified_diff(real.splitlines(), drill.splitlines(), "real", "drill")
    assert drill == real, "\n".join(diff)


def test_kubectl_get_events(both: Both) -> None:
    """The real controllers add events of their own; every drill event must be there too."""
    drill = rows(both.drill("get", "events"), both, without=("LAST SEEN",))
    real = rows(both.mirrored("get", "events"), both, without=("LAST SEEN",))
    assert drill and set(drill[0]) == {"TYPE", "REASON", "OBJECT", "MESSAGE"}
    # Named difference (as in test_drill_conformance): the drill scales the old ReplicaSet down
    # in one step, the real controller steps by maxSurge and maxUnavailable.
    stepped = [r for r in drill if r["MESSAGE"].startswith("Scaled down replica set")]
    missing = [r for r in drill if r not in real and r not in stepped]
    assert not missing, json.dumps(missing, indent=1)
    for row in stepped:
        prefix = row["MESSAGE"].rsplit(" from ", 1)[0] + " from "
        assert any(r["MESSAGE"].startswith(prefix) for r in real), row


def test_kubectl_get_deployment_as_json(both: Both) -> None:
    def stored(text: str) -> Obj:
        dep: Obj = json.loads(both.neutral(text))
        for key in ("uid", "resourceVersion"):
            dep["metadata"].pop(key)
        # Named difference: the mirror rolls each release out (its pods reported ready) before
        # staging the crash loop, so the real Progressing condition says the rollout completed;
        # the drill's bad release never became available.
        dep["status"].pop("conditions")
        return dep

    drill = stored(both.drill("get", "deployment/ecap-api", "-o", "json"))
    real = stored(both.mirrored("get", "deployment/ecap-api", "-o", "json"))
    assert drill == real, differences(drill, real, ("real", "drill"))
