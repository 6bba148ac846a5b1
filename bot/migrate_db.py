"""`falbot migrate-db --from sqlite:///data/falbot.db --to postgresql://…`: copy falbot's SQLite
database into an empty PostgreSQL database in one transaction, check the copy (every table's row
count, each workspace's ledger sums) before it commits, and commit nothing when they differ.

Everything a person can get wrong is one line on stderr, never a traceback, and the password in
`--to` is never printed or logged. The log goes beside the SQLite file (`migrate-db.log`)."""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
import sys
from decimal import Decimal
from pathlib import Path
from typing import TextIO
from urllib.parse import unquote, urlsplit

import asyncpg

from adapters.postgres import PostgresStore
from adapters.postgres.load import Figures, LoadError, NotEmpty, occupied
from adapters.sqlite import SqliteStore
from bot.check import _postgres_problem
from bot.logging_setup import configure_logging
from bot.settings import POSTGRES_SCHEMES

log = logging.getLogger(__name__)

SQLITE_PREFIX = "sqlite:///"
SQLITE_MAGIC = b"SQLite format 3\x00"
CONNECT_TIMEOUT = 10.0
_PG_EXAMPLE = "postgresql://user:password@host:5432/falbot"


class MigrationFailed(Exception):
    """Why the copy was not made, in one line for the person; `code` is the exit status."""

    def __init__(self, message: str, *, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def migrate_db(source_url: str, target_url: str, *, out: TextIO | None = None) -> int:
    """The command: 0 once the copy is committed, else 1 (or 2 for a malformed URL)."""
    out = out or sys.stdout
    password = _password(target_url)
    try:
        where = target_where(target_url)
        path = source_path(source_url)
        _log_beside(path, secrets=[password] if password else [])
        asyncio.run(_migrate(path, target_url, where=where, out=out))
    except MigrationFailed as failed:
        print(f"falbot migrate-db: {_masked(str(failed), password)}", file=sys.stderr)
        return failed.code
    return 0


def source_path(url: str) -> Path:
    """The SQLite file `--from` names, once it is there, readable and a SQLite database."""
    if not url.startswith(SQLITE_PREFIX):
        raise MigrationFailed(
            "--from must name falbot's SQLite file: sqlite:///data/falbot.db (relative to "
            "here) or sqlite:////var/lib/falbot/falbot.db (absolute)",
            code=2,
        )
    path = Path(url.removeprefix(SQLITE_PREFIX))
    if not path.exists():
        raise MigrationFailed(
            f"{path} does not exist: give --from the SQLite file falbot ran on "
            "(its FALBOT_DATABASE; sqlite:///relative/path or sqlite:////absolute/path)"
        )
    if path.is_dir():
        raise MigrationFailed(f"{path} is a folder: give --from falbot's SQLite file in it")
    try:
        with path.open("rb") as file:
            head = file.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise MigrationFailed(
            f"cannot read {path} ({exc.strerror}): run migrate-db as a user who may read it"
        ) from None
    if head != SQLITE_MAGIC:
        raise MigrationFailed(
            f"{path} is {'empty' if not head else 'not a SQLite database'}: give --from the "
            "file falbot ran on"
        )
    return path


def target_where(url: str) -> str:
    """The PostgreSQL database `--to` names, as shown to people (no user, no password)."""
    if not url.startswith(POSTGRES_SCHEMES):
        raise MigrationFailed(f"--to must be a PostgreSQL URL: {_PG_EXAMPLE}", code=2)
    problem = _postgres_problem(url)
    if problem is not None:
        raise MigrationFailed(f"--to: {problem}", code=2)
    parts = urlsplit(url)
    return f"postgresql://{parts.hostname}:{parts.port or 5432}{parts.path}"


async def _migrate(path: Path, dsn: str, *, where: str, out: TextIO) -> None:
    # Before anything is changed anywhere: the target is reachable and holds no rows.
    await _refuse_occupied(dsn, where)
    try:
        source = await SqliteStore.open(path)
    except (sqlite3.Error, RuntimeError) as exc:
        raise MigrationFailed(f"cannot open {path}: {exc}") from None
    try:
        target = await _open_target(dsn, where)
        try:
            figures, expected = await _copy(source, target, path=path, where=where)
        finally:
            await target.close()
    finally:
        await source.close()
    _report(figures, expected, path=path, where=where, out=out)


async def _copy(
    source: SqliteStore, target: PostgresStore, *, path: Path, where: str
) -> tuple[Figures, Figures]:
    async with source.snapshot() as snapshot:
        expected = Figures(
            counts={table: await snapshot.count(table) for table in snapshot.tables},
            ledger=await snapshot.ledger_sums(),
        )

        async def verify(copied: Figures) -> None:
            differences = _differences(expected, copied)
            if differences:
                log.error("the copy differs from the source: %s", "; ".join(differences))
                raise MigrationFailed(
                    f"the copy in PostgreSQL differs from {path} ({'; '.join(differences)}), "
                    "so it was rolled back: nothing was changed; please report it"
                )

        log.info("copying %s to %s: %s", path, where, expected.counts)
        try:
            copied = await target.load(snapshot, verify=verify)
        except NotEmpty as full:
            raise _not_empty(full.rows, where) from None
        except LoadError as exc:
            raise MigrationFailed(f"{exc}; nothing was changed") from None
        except (OSError, asyncpg.InterfaceError, asyncpg.PostgresError) as exc:
            log.error("the copy to %s failed: %s", where, exc)
            raise MigrationFailed(
                f"the copy to {where} failed ({type(exc).__name__}: {exc}); it was rolled "
                "back, so nothing was changed"
            ) from None
    return copied, expected


def _differences(expected: Figures, copied: Figures) -> list[str]:
    found: list[str] = []
    for table in sorted(expected.counts):  # tables only PostgreSQL has are not copied into
        want, got = expected.counts.get(table, 0), copied.counts.get(table, 0)
        if want != got:
            found.append(f"{table}: {got} rows copied of {want}")
    zero = (Decimal(0), Decimal(0))
    for workspace in sorted(set(expected.ledger) | set(copied.ledger)):
        want_sums = expected.ledger.get(workspace, zero)
        got_sums = copied.ledger.get(workspace, zero)
        if want_sums != got_sums:
            found.append(
                f"the ledger of workspace {workspace} sums to {_sums(got_sums)} instead of "
                f"{_sums(want_sums)}"
            )
    return found


def _report(copied: Figures, expected: Figures, *, path: Path, where: str, out: TextIO) -> None:
    rows = ", ".join(f"{t} {n}" for t, n in sorted(copied.counts.items()) if t in expected.counts)
    spent = sum((cost for cost, _ in expected.ledger.values()), Decimal(0))
    credits = sum((c for _, c in expected.ledger.values()), Decimal(0))
    workspaces = len(expected.ledger)
    print(f"Copied {path} into {where} in one transaction.", file=out)
    print(f"  rows: {rows}", file=out)
    print(
        f"Checked before committing: the row counts of all {len(expected.counts)} tables match, "
        f"and so does the ledger of {workspaces} workspace{'s' * (workspaces != 1)} "
        f"({_sums((spent, credits))} in all).",
        file=out,
    )
    print(
        f"Next: set FALBOT_DATABASE to the PostgreSQL URL and start falbot there; keep {path} "
        "as a backup, and do not start falbot on it again.",
        file=out,
    )
    log.info("copied %s to %s: %s", path, where, copied.counts)


def _sums(sums: tuple[Decimal, Decimal]) -> str:
    cost, credits = sums
    sign = "-" if cost < 0 else ""
    return f"{sign}${abs(cost):f} and {credits:f} credits"


def _not_empty(rows: dict[str, int], where: str) -> MigrationFailed:
    held = ", ".join(f"{table} has {n} row{'s' * (n != 1)}" for table, n in sorted(rows.items()))
    return MigrationFailed(
        f"the PostgreSQL database {where} is not empty ({held}): migrate-db copies only into an "
        "empty database, so nothing was changed; create a new one (CREATE DATABASE falbot) and "
        "give --to that one"
    )


async def _refuse_occupied(dsn: str, where: str) -> None:
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            db = await asyncpg.connect(dsn)
    except Exception as exc:  # every way of not connecting gets its own sentence
        raise _not_connected(exc, where) from None
    try:
        rows = await occupied(db)
    finally:
        await db.close()
    if rows:
        raise _not_empty(rows, where)


async def _open_target(dsn: str, where: str) -> PostgresStore:
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT * 3):  # connecting, then migrating
            return await PostgresStore.open(dsn, min_size=1, max_size=2)
    except RuntimeError as exc:  # a schema newer than this falbot knows
        raise MigrationFailed(f"{where}: {exc}") from None
    except Exception as exc:
        raise _not_connected(exc, where) from None


def _not_connected(exc: BaseException, where: str) -> MigrationFailed:
    """One sentence for each way a connection fails; never the URL itself (it may hold the
    password), only what the server or the network said."""
    log.warning("cannot use PostgreSQL at %s: %s", where, type(exc).__name__)
    fix = "check the host and port in --to, and that PostgreSQL runs there"
    if isinstance(exc, TimeoutError):
        return MigrationFailed(f"PostgreSQL at {where} did not answer within the time: {fix}")
    if isinstance(exc, socket.gaierror):
        return MigrationFailed(f"cannot reach PostgreSQL at {where} (host not found): {fix}")
    if isinstance(exc, ConnectionRefusedError) or (
        isinstance(exc, OSError) and "refused" in str(exc).lower()
    ):
        return MigrationFailed(f"cannot reach PostgreSQL at {where} (connection refused): {fix}")
    if isinstance(exc, OSError):
        reason = exc.strerror or type(exc).__name__
        return MigrationFailed(f"cannot reach PostgreSQL at {where} ({reason}): {fix}")
    if isinstance(
        exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
    ):
        return MigrationFailed(
            f"PostgreSQL at {where} refused the user or password in --to ({exc}); the password "
            "is not shown here: check it"
        )
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        server, name = where.rsplit("/", 1)
        return MigrationFailed(
            f"PostgreSQL at {server} has no database {name}: create it first "
            f"(CREATE DATABASE {name}) and run migrate-db again"
        )
    if isinstance(exc, asyncpg.PostgresError):
        return MigrationFailed(f"PostgreSQL at {where} refused the connection: {exc}")
    return MigrationFailed(
        f"cannot connect to PostgreSQL at {where} ({type(exc).__name__}): check --to "
        f"({_PG_EXAMPLE})"
    )


def _password(url: str) -> str | None:
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def _masked(text: str, password: str | None) -> str:
    # No message quotes --to; this is the belt to those braces (as the log's filter, it leaves
    # alone passwords so short that masking them would mangle the words around).
    if not password or len(password) < 6:
        return text
    return text.replace(password, "***")


def _log_beside(path: Path, *, secrets: list[str]) -> None:
    """The log goes to migrate-db.log beside the SQLite file; nowhere, when it cannot."""
    try:
        configure_logging(secrets=secrets, level="info", path=path.parent / "migrate-db.log")
    except OSError:
        logging.getLogger().addHandler(logging.NullHandler())
