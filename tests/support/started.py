"""What every real server the tests start shares: `with` starts it and stops it."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Started:
    """A server with `start()` and `stop()`; as a context manager, both around the block."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
