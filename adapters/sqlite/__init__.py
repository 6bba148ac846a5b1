"""The `Store` port on SQLite (aiosqlite): the embedded default."""

from adapters.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
