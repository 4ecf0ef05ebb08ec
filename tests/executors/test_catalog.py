"""The one list of backends: every action a playbook may name reaches a table entry."""

from __future__ import annotations

import pytest

from bot.config import ServiceBinding
from bot.executors.base import WriteAction
from bot.executors.catalog import BACKENDS, READ_TYPES, WRITE_TYPES, action_name, build_registry
from bot.executors.network import NetworkExecutor, TcpConnect
from bot.executors.postgres import PostgresExecutor
from bot.executors.tabled import TabledExecutor
from bot.executors.units import mebibytes, parse_quantity


async def test_every_action_has_its_backends_table_entry() -> None:
    registry = build_registry()
    try:
        for cls in READ_TYPES + WRITE_TYPES:
            executor = registry.for_action(cls.model_construct(type=action_name(cls)))
            assert isinstance(executor, TabledExecutor)
            assert action_name(cls) in executor.action_types
    finally:
        await registry.close()


def test_each_backend_is_registered_once() -> None:
    names = [backend.name for backend in BACKENDS]
    assert names == ["kubernetes", "docker", "postgres", "http", "network", "redis", "prometheus"]
    assert len(READ_TYPES + WRITE_TYPES) == len(set(READ_TYPES + WRITE_TYPES))


async def test_a_foreign_action_is_refused_in_one_line() -> None:
    target = ServiceBinding()
    stray = TcpConnect(type="tcp.connect", host="localhost", port=1)
    result = await PostgresExecutor().check(stray, target)
    assert (result.status, result.summary) == ("error", "not a Postgres read: tcp.connect")
    fix = WriteAction(type="tcp.close")
    preview = await NetworkExecutor().preview(fix, target)
    assert preview.error == "tcp.close is a check, not a fix"


@pytest.mark.parametrize("value", [None, "", "inf", "nan", "1.2.3", {}])
def test_what_is_not_a_quantity_is_none(value: object) -> None:
    assert parse_quantity(value) is None
    assert mebibytes(value) is None
