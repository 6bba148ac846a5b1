"""The test run's own PostgreSQL database: made on first use (a random name), emptied before
each test's store, dropped when the run ends.

The server is `FALBOT_TEST_POSTGRES` (default: postgres on 127.0.0.1:5432, trust auth). When it
cannot be reached, PostgreSQL tests skip with the reason, except under CI (`CI` set), where they
fail: CI must never pass without them."""

from __future__ import annotations

import asyncio
import atexit
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from adapters.postgres import TABLES, PostgresStore

SERVER = os.environ.get("FALBOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
_CONNECT_TIMEOUT = 5.0


class _Session:
    dsn: str | None = None
    problem: str | None = None


def _with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


def unavailable(reason: str) -> None:
    """Skip (locally) or fail (under CI) the test that needs PostgreSQL."""
    message = f"PostgreSQL is not reachable at {_with_database(SERVER, '')}: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must run the PostgreSQL tests)", pytrace=False)
    pytest.skip(message)


async def session_database() -> str:
    """The DSN of this run's database, created on the first call."""
    if _Session.dsn is None and _Session.problem is None:
        name = f"falbot_test_{secrets.token_hex(6)}"
        try:
            admin = await asyncpg.connect(SERVER, timeout=_CONNECT_TIMEOUT)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            _Session.problem = f"{type(exc).__name__}: {exc}"
        else:
            try:
                await admin.execute(f'CREATE DATABASE "{name}"')
            finally:
                await admin.close()
            _Session.dsn = _with_database(SERVER, name)
            atexit.register(_drop, name)
    if _Session.dsn is None:
        unavailable(_Session.problem or "unknown")
    assert _Session.dsn is not None
    return _Session.dsn


def _drop(name: str) -> None:
    async def drop() -> None:
        admin = await asyncpg.connect(SERVER, timeout=_CONNECT_TIMEOUT)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(drop())


async def empty(dsn: str) -> None:
    """Remove every row the tests may have left (the schema stays)."""
    db = await asyncpg.connect(dsn, timeout=_CONNECT_TIMEOUT)
    try:
        await db.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")
    finally:
        await db.close()


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A database of its own, with no schema yet, dropped at the end; its DSN."""
    await session_database()  # skips (or fails) first when the server is out of reach
    name = f"falbot_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(SERVER, timeout=_CONNECT_TIMEOUT)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield _with_database(SERVER, name)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@asynccontextmanager
async def postgres_store(*, max_size: int = 10) -> AsyncIterator[PostgresStore]:
    """A store on this run's database, empty, closed at the end."""
    dsn = await session_database()
    async with await PostgresStore.open(dsn, max_size=max_size) as store:
        await empty(dsn)
        yield store
