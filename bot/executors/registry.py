"""Finds the executor for an action by its params class."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel

from bot.errors import InvalidRequest
from bot.executors.base import Executor


class ExecutorRegistry:
    def __init__(self, backends: Iterable[tuple[Iterable[type[BaseModel]], Executor]]) -> None:
        self._by_type: dict[type[BaseModel], Executor] = {}
        self._executors: list[Executor] = []
        for types, executor in backends:
            self._executors.append(executor)
            for params_type in types:
                self._by_type[params_type] = executor

    def for_action(self, action: BaseModel) -> Executor:
        try:
            return self._by_type[type(action)]
        except KeyError:
            raise InvalidRequest(f"no executor is configured for {type(action).__name__}") from None

    async def close(self) -> None:
        for executor in self._executors:
            close = getattr(executor, "close", None)
            if close is not None:
                await close()
