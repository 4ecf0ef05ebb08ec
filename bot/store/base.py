"""What the engine needs from an incident store, whatever holds the data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Record:
    """One stored document: its id, status (for listing), CAS version and JSON body."""

    id: str
    status: str
    version: int
    body: str


class Store(Protocol):
    """Durable records with compare-and-set writes, a counter and claims, shared by replicas."""

    async def next_number(self) -> int:
        """The next number of a sequence starting at 1; never handed out twice."""
        ...

    async def insert(self, record: Record) -> None:
        """Store a new record as given; ConflictError if the id exists."""
        ...

    async def load(self, id: str) -> Record | None:
        """The stored record, or None."""
        ...

    async def replace(self, record: Record) -> Record:
        """Write if the stored version is record.version; returns the stored record (version+1)."""
        ...

    async def list(self, status: str | None = None) -> list[Record]:
        """Every record, or those with the status, ordered by id."""
        ...

    async def claim(self, key: str, owner: str, ttl_s: float | None = None) -> bool:
        """True for exactly one caller per key until released or the ttl runs out."""
        ...

    async def renew(self, key: str, owner: str, ttl_s: float) -> bool:
        """Give owner's claim on key a fresh ttl; False if owner no longer holds it."""
        ...

    async def release(self, key: str, owner: str) -> None:
        """Drop the claim on key if owner holds it."""
        ...

    async def ping(self) -> None:
        """Raise StoreError unless the store answers."""
        ...

    async def close(self) -> None:
        """Release connections; the store is unusable afterwards."""
        ...
