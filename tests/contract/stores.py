"""Every `Store`, by name, for the contract suite: a new store joins by adding one entry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from adapters.sqlite import SqliteStore
from core.ports import Store
from tests.fakes.memory_store import MemoryStore
from tests.integration.postgres.database import postgres_store


@asynccontextmanager
async def memory(_folder: Path) -> AsyncIterator[Store]:
    yield MemoryStore()


@asynccontextmanager
async def sqlite(folder: Path) -> AsyncIterator[Store]:
    async with await SqliteStore.open(folder / "data" / "falbot.db") as store:
        yield store


@asynccontextmanager
async def postgres(_folder: Path) -> AsyncIterator[Store]:
    """This run's own PostgreSQL database, emptied (skipped, or under CI failed, when the
    server cannot be reached)."""
    async with postgres_store() as store:
        yield store


STORES: dict[str, Callable[[Path], AbstractAsyncContextManager[Store]]] = {
    "memory": memory,
    "sqlite": sqlite,
    "postgres": postgres,
}
