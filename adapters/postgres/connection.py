"""A pool of asyncpg connections: one transaction per store method, on whichever connection is
free, so several processes (and several tasks of one) use the database at once."""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import asyncpg

from adapters.postgres.codec import Connection
from adapters.postgres.migrations import migrate

log = logging.getLogger(__name__)

POOL_MIN = 1
POOL_MAX = 10
DEFAULT_LEASE_SECONDS = 15.0


def default_instance() -> str:
    """A name for this process no other shares: its host, its pid and a few random bytes (a
    restarted process is a new owner: it takes its old jobs over like any other)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class PostgresConnection:
    """Every method is one transaction on a connection of the pool (read committed; the rows a
    decision is made over are locked with `SELECT … FOR UPDATE`)."""

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record], *, dsn: str) -> None:
        self._pool: asyncpg.Pool[asyncpg.Record] | None = pool
        self.dsn = dsn
        # This process, as the owner of the jobs it works on, and the lease it takes on them.
        self.instance = default_instance()
        self.lease = timedelta(seconds=DEFAULT_LEASE_SECONDS)

    def serve_as(self, instance: str, *, lease_seconds: float) -> None:
        """Name this process (the owner it writes on its jobs) and the lease it takes."""
        self.instance = instance
        self.lease = timedelta(seconds=lease_seconds)

    @classmethod
    async def open(cls, dsn: str, *, min_size: int = POOL_MIN, max_size: int = POOL_MAX) -> Self:
        """Connect to the database at `dsn` (`postgresql://…`) and bring its schema up to date
        (under an advisory lock: two processes starting at once migrate it once)."""
        own: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(dsn)
        try:
            version = await migrate(own)  # its session lock on a connection of its own
        finally:
            await own.close()
        pool: asyncpg.Pool[asyncpg.Record] = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            init=_init_connection,
            reset=_keep_session,
        )
        log.info("opened PostgreSQL database %s at schema version %d", _where(dsn), version)
        return cls(pool, dsn=dsn)

    async def close(self) -> None:
        """Close the pool's connections. Safe to call twice."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @asynccontextmanager
    async def _tx(self, *, write: bool = True) -> AsyncIterator[Connection]:
        """One transaction on a pooled connection; rolled back on any exception, cancellation
        included (asyncpg's transaction block does it)."""
        if self._pool is None:
            raise ValueError("the store is closed")
        async with self._pool.acquire() as db, db.transaction(readonly=not write):
            yield db

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Connection]:
        """A pooled connection, outside any transaction: for one statement (PostgreSQL runs it
        in a transaction of its own, without a BEGIN and a COMMIT to wait for), or for a
        caller that opens its own transaction."""
        if self._pool is None:
            raise ValueError("the store is closed")
        async with self._pool.acquire() as db:
            yield db

    @asynccontextmanager
    async def _own_connection(self) -> AsyncIterator[asyncpg.Connection[asyncpg.Record]]:
        """A connection outside the pool, closed after the block: for session state (an
        advisory lock held across statements) that must never go back to the pool."""
        if self._pool is None:
            raise ValueError("the store is closed")
        db: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(self.dsn)
        try:
            yield db
        finally:
            await db.close()


async def _init_connection(db: asyncpg.Connection[asyncpg.Record]) -> None:
    # JSON columns come back as Python values, and go in from them.
    for kind in ("json", "jsonb"):
        await db.set_type_codec(kind, encoder=_dumps, decoder=_loads, schema="pg_catalog")
    await db.execute("SET TIME ZONE 'UTC'")


async def _keep_session(db: asyncpg.Connection[asyncpg.Record]) -> None:
    """What a connection going back to the pool needs beyond asyncpg's own (an open transaction
    rolled back): nothing. Pooled connections hold no session state (session locks and LISTEN
    have connections of their own), and asyncpg's default `RESET ALL` would cost a round trip
    per store method and undo the time zone `_init_connection` set."""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _loads(text: str) -> Any:
    return json.loads(text)


def _where(dsn: str) -> str:
    """The database a DSN names, without its user or password (for logs)."""
    parts = urlsplit(dsn)
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"
