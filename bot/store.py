"""The store `FALBOT_DATABASE` names: SQLite (`sqlite:///…`, the embedded default for one
process) or PostgreSQL (`postgresql://…`, shared by any number of processes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from adapters.postgres import PostgresStore
from adapters.sqlite.store import SqliteStore
from bot.settings import Settings

AppStore = SqliteStore | PostgresStore


async def open_store(settings: Settings) -> AppStore:
    """Open (creating or migrating) the database `settings.database` names."""
    if settings.database_dsn is not None:
        return await PostgresStore.open(settings.database_dsn)
    return await SqliteStore.open(settings.database_path)


def database_probe(store: AppStore) -> Callable[[], Awaitable[None]]:
    """One read through the store; for SQLite, also the file still where it was (a deleted or
    unmounted SQLite file keeps answering from the open connection, and loses every write)."""

    async def probe() -> None:
        if isinstance(store, SqliteStore) and not store.path.exists():
            raise FileNotFoundError("the database file is gone")
        await store.policy("healthz")

    return probe
