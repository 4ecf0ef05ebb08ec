"""The Kubernetes executor's pure parts: quantities, change rendering, error mapping."""

from __future__ import annotations

import json

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from bot.executors.kubernetes.changes import change_between, flatten
from bot.executors.kubernetes.failure import to_kube_error
from bot.executors.units import mebibytes, millicores, parse_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("250m", 0.25),
        ("2", 2.0),
        ("1500000n", 0.0015),
        ("300u", 0.0003),
        ("1Ki", 1024.0),
        ("1.5Gi", 1.5 * 2**30),
        ("2k", 2000.0),
        ("3M", 3e6),
        ("1G", 1e9),
        ("bogus", None),
        ("12Q", None),
    ],
)
def test_parse_quantity(text: str, value: float | None) -> None:
    assert parse_quantity(text) == value


def test_units() -> None:
    assert millicores("950m") == pytest.approx(950)
    assert mebibytes("512Mi") == 512
    assert mebibytes("1048576Ki") == 1024


def test_flatten_keys_named_lists_and_masks_sensitive_env() -> None:
    spec = {
        "replicas": 3,
        "containers": [
            {
                "name": "api",
                "image": "a:1",
                "env": [
                    {"name": "DB_PASSWORD", "value": "hunter2-secret"},
                    {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "t"}}},
                ],
            }
        ],
    }
    flat = flatten(spec)
    assert flat["replicas"] == "3"
    assert flat["containers[api].image"] == "a:1"
    assert flat["containers[api].env[DB_PASSWORD]"] == "[redacted]"
    assert flat["containers[api].env[TOKEN]"].startswith("<from secretKeyRef")


def test_change_shows_only_changed_fields() -> None:
    before = {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": "a:1"}]}}}}
    after = {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": "a:2"}]}}}}
    change = change_between(before, after, "spec")
    assert change.gist() == "containers[api].image a:1 -> a:2"
    assert change.side(change.before) == "containers[api].image: a:1"
    assert "+containers[api].image: a:2" in change.diff("deployment/api").splitlines()


def _api_error(status: int, message: str) -> ApiException:
    exc = ApiException(status=status, reason="Reason")
    exc.body = json.dumps({"kind": "Status", "message": message})
    return exc


def test_forbidden_uses_the_status_message_gist() -> None:
    message = (
        'pods is forbidden: User "system:serviceaccount:ops:bot" cannot list resource "pods" '
        'in API group "" in the namespace "default"'
    )
    error = to_kube_error(
        _api_error(403, message), verb="list", what="pods", server="https://k", timeout=10
    )
    assert str(error) == "forbidden: cannot list pods in namespace default (403)"
    assert error.status == 403


def test_other_api_errors_are_one_line() -> None:
    error = to_kube_error(
        _api_error(422, 'Deployment.apps "x" is invalid:\nspec.replicas: bad'),
        verb="patch",
        what="deployment x in namespace default",
        server="https://k",
        timeout=10,
    )
    assert str(error) == (
        "cannot patch deployment x in namespace default (422): "
        'Deployment.apps "x" is invalid: spec.replicas: bad'
    )


def test_read_timeout() -> None:
    exc = urllib3.exceptions.ReadTimeoutError(None, "/api", "read timed out")  # type: ignore[arg-type]
    error = to_kube_error(exc, verb="list", what="pods", server="https://k", timeout=10)
    assert str(error) == "timed out after 10s"
