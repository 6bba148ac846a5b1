"""The `Store` port on SQLite (aiosqlite): the embedded default.

`SqliteStore.open(path)` opens (creating and migrating) a database file; the store is an async
context manager and closes its connections on exit. `checkpoint()` copies the WAL into the file
without blocking writers; the store does it itself every `CHECKPOINT_EVERY` writes."""

from adapters.sqlite.connection import CHECKPOINT_EVERY
from adapters.sqlite.store import SqliteStore

__all__ = ["CHECKPOINT_EVERY", "SqliteStore"]
