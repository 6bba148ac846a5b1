"""Both `Store`s, for the one contract suite: the in-memory fake and SQLite on a temp file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.sqlite import SqliteStore
from core.ports import Store
from tests.fakes.memory_store import MemoryStore


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    sqlite = await SqliteStore.open(tmp_path / "data" / "falbot.db")
    try:
        yield sqlite
    finally:
        await sqlite.close()
