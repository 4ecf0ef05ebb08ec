"""Patch semantics: strategic merge, RFC 7386 merge patch, RFC 6902 JSON patch."""

from __future__ import annotations

from typing import Any

import pytest

from bot.drills.merge import JSON_PATCH, MERGE, STRATEGIC, PatchError, apply_patch

TARGET: dict[str, Any] = {
    "spec": {
        "selector": {"app": "ecap-api", "tier": "web"},
        "containers": [{"name": "a", "image": "x:1", "env": [1]}, {"name": "b", "image": "y:1"}],
        "args": ["one", "two"],
    }
}


def test_strategic_merges_named_lists_and_replaces_others() -> None:
    patch = {"spec": {"containers": [{"name": "b", "image": "y:2"}], "args": ["three"]}}
    result = apply_patch(TARGET, patch, STRATEGIC)
    assert result["spec"]["containers"] == [
        {"name": "a", "image": "x:1", "env": [1]},
        {"name": "b", "image": "y:2"},
    ]
    assert result["spec"]["args"] == ["three"]
    assert TARGET["spec"]["containers"][1]["image"] == "y:1"


def test_merge_patch_deletes_with_null_and_replaces_lists() -> None:
    patch = {"spec": {"selector": {"tier": None}, "containers": [{"name": "c"}]}}
    result = apply_patch(TARGET, patch, f"{MERGE}; charset=utf-8")
    assert result["spec"]["selector"] == {"app": "ecap-api"}
    assert result["spec"]["containers"] == [{"name": "c"}]


def test_json_patch_operations() -> None:
    ops = [
        {"op": "replace", "path": "/spec/containers/0/image", "value": "x:2"},
        {"op": "add", "path": "/spec/args/-", "value": "end"},
        {"op": "remove", "path": "/spec/selector/tier"},
        {"op": "add", "path": "/metadata", "value": {"a~b/c": 1}},
    ]
    result = apply_patch(TARGET, ops, JSON_PATCH)
    assert result["spec"]["containers"][0]["image"] == "x:2"
    assert result["spec"]["args"] == ["one", "two", "end"]
    assert result["spec"]["selector"] == {"app": "ecap-api"}
    with pytest.raises(PatchError):
        apply_patch(TARGET, [{"op": "remove", "path": "/spec/missing"}], JSON_PATCH)
    with pytest.raises(PatchError):
        apply_patch(TARGET, {"op": "add"}, JSON_PATCH)


def _env(patch_env: dict[str, object]) -> list[str]:
    target = {"spec": {"containers": [{"name": "a", "env": [{"name": "A"}, {"name": "B"}]}]}}
    patch = {"spec": {"containers": [{"name": "a", **patch_env}]}}
    patched = apply_patch(target, patch, STRATEGIC)
    return [e["name"] for e in patched["spec"]["containers"][0]["env"]]


def test_strategic_list_order_follows_the_api_server() -> None:
    # As kube-apiserver orders them (tests/cluster/test_strategic_merge_on_the_drill.py).
    assert _env({"env": [{"name": "C"}]}) == ["C", "A", "B"]
    assert _env({"env": [{"name": "B", "value": "2"}, {"name": "C"}]}) == ["A", "B", "C"]
    order = [{"name": "A"}, {"name": "C"}, {"name": "B"}]
    assert _env({"$setElementOrder/env": order, "env": [{"name": "C"}]}) == ["A", "C", "B"]
    assert _env({"$setElementOrder/env": [{"name": "B"}, {"name": "A"}]}) == ["B", "A"]
    assert _env({"env": [{"name": "A", "$patch": "delete"}]}) == ["B"]
    assert _env({"env": [{"name": "Z"}, {"$patch": "replace"}]}) == ["Z"]
    with pytest.raises(PatchError):
        _env({"env": [{"value": "no merge key"}]})
