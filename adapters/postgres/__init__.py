"""The `Store` port on PostgreSQL (asyncpg), for falbot on several processes or machines.

`await PostgresStore.open("postgresql://…")` connects a pool and migrates the schema (numbered
migrations in `schema_version`, under an advisory lock); the store is an async context manager
and closes its pool on exit. Money is NUMERIC, times TIMESTAMPTZ; admission locks the
workspace's budget row and the user's bucket row (`SELECT … FOR UPDATE`)."""

from adapters.postgres.migrations import LATEST, MIGRATION_LOCK, TABLES
from adapters.postgres.store import PostgresStore

__all__ = ["LATEST", "MIGRATION_LOCK", "TABLES", "PostgresStore"]
