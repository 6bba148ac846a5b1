"""The schema, as numbered migrations applied once each and recorded in `schema_version`."""

from __future__ import annotations

import logging
from datetime import datetime

import aiosqlite

from adapters.sqlite.codec import to_us

log = logging.getLogger(__name__)

# Money in the ledger is INTEGER micro-dollars (exact sums in SQL); decimals that must come back
# exactly (credits, bucket levels, limits, budgets, estimates) are TEXT. Times are INTEGER
# microseconds since the epoch, UTC. A job's `final` mirrors its state, for partial indexes.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            platform TEXT NOT NULL,
            workspace_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            model TEXT NOT NULL,
            kind TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            arguments TEXT NOT NULL,
            estimate_usd TEXT NOT NULL,
            estimate_micros INTEGER NOT NULL,
            credits TEXT NOT NULL,
            state TEXT NOT NULL,
            final INTEGER NOT NULL,
            created_us INTEGER NOT NULL,
            updated_us INTEGER NOT NULL,
            reply_ref TEXT NOT NULL,
            input_count INTEGER NOT NULL,
            request_id TEXT,
            result TEXT,
            error TEXT,
            credits_settled INTEGER NOT NULL DEFAULT 0,
            parent_job_id TEXT
        )""",
        "CREATE INDEX jobs_user ON jobs (workspace_id, user_id, created_us)",
        "CREATE INDEX jobs_live ON jobs (created_us) WHERE final = 0",
        "CREATE INDEX jobs_live_user ON jobs (workspace_id, user_id) WHERE final = 0",
        """CREATE TABLE job_inputs (
            job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            content_type TEXT NOT NULL,
            data BLOB,
            url TEXT,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            PRIMARY KEY (job_id, idx)
        )""",
        """CREATE TABLE buckets (
            workspace_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            level TEXT NOT NULL,
            updated_us INTEGER NOT NULL,
            PRIMARY KEY (workspace_id, user_id)
        )""",
        """CREATE TABLE ledger (
            id INTEGER PRIMARY KEY,
            job_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            workspace_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            model TEXT NOT NULL,
            cost_micros INTEGER NOT NULL,
            credits TEXT NOT NULL,
            at_us INTEGER NOT NULL,
            UNIQUE (job_id, kind)
        )""",
        "CREATE INDEX ledger_workspace ON ledger (workspace_id, at_us)",
        """CREATE TABLE quotas (
            workspace_id TEXT NOT NULL,
            scope TEXT NOT NULL,
            target_id TEXT NOT NULL,
            capacity TEXT NOT NULL,
            refill_per_hour TEXT NOT NULL,
            PRIMARY KEY (workspace_id, scope, target_id)
        )""",
        """CREATE TABLE budgets (
            workspace_id TEXT PRIMARY KEY,
            daily_usd TEXT,
            monthly_usd TEXT
        )""",
        """CREATE TABLE denied_models (
            workspace_id TEXT NOT NULL,
            model TEXT NOT NULL,
            PRIMARY KEY (workspace_id, model)
        )""",
        """CREATE TABLE bans (
            workspace_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            PRIMARY KEY (workspace_id, user_id)
        )""",
        "CREATE TABLE dedupe (key TEXT PRIMARY KEY, seen_us INTEGER NOT NULL)",
        "CREATE INDEX dedupe_seen ON dedupe (seen_us)",
    ),
    (
        # What a workspace does with outputs fal flags as NSFW (withhold, spoiler, allow).
        "CREATE TABLE workspace_nsfw (workspace_id TEXT PRIMARY KEY, mode TEXT NOT NULL)",
    ),
    (
        # Small facts the bot keeps about itself (the hash of the Discord commands registered).
        "CREATE TABLE bot_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    (
        # What a job settles with, kept from its admission: the bucket limits resolved then
        # (roles included) and its pricing rule's base price. NULL for jobs admitted before.
        "ALTER TABLE jobs ADD COLUMN limit_capacity TEXT",
        "ALTER TABLE jobs ADD COLUMN limit_refill_per_hour TEXT",
        "ALTER TABLE jobs ADD COLUMN price_base_usd TEXT",
    ),
    (
        # A job's NSFW facts, once kept in its reply_ref (keys falbot_nsfw_channel and
        # falbot_nsfw_input), are columns of their own; older jobs keep theirs.
        "ALTER TABLE jobs ADD COLUMN nsfw_channel INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE jobs ADD COLUMN nsfw_input INTEGER NOT NULL DEFAULT 0",
        "UPDATE jobs SET"
        " nsfw_channel = COALESCE(json_extract(reply_ref, '$.falbot_nsfw_channel'), 0) != 0,"
        " nsfw_input = COALESCE(json_extract(reply_ref, '$.falbot_nsfw_input'), 0) != 0"
        " WHERE reply_ref LIKE '%falbot_nsfw_%'",
    ),
)

LATEST = len(MIGRATIONS)


async def migrate(db: aiosqlite.Connection, *, now: datetime) -> int:
    """Apply the migrations the database has not seen; return its version afterwards.

    Each migration is its own transaction together with its `schema_version` row, and the
    version is read inside it, so a crash (or a second process starting at the same moment)
    leaves the database at one version or the next, never half-way or migrated twice.
    """
    await db.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        "version INTEGER PRIMARY KEY, applied_us INTEGER NOT NULL)"
    )
    while True:
        await db.execute("BEGIN IMMEDIATE")
        try:
            rows = await db.execute_fetchall("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            current = int(next(iter(rows))[0])
            if current > LATEST:
                raise RuntimeError(
                    f"the database is at schema version {current}, newer than this falbot "
                    f"knows ({LATEST}); upgrade falbot"
                )
            if current == LATEST:
                await db.commit()
                return current
            for statement in MIGRATIONS[current]:
                await db.execute(statement)
            await db.execute(
                "INSERT INTO schema_version (version, applied_us) VALUES (?, ?)",
                (current + 1, to_us(now)),
            )
        except BaseException:
            await db.rollback()
            raise
        await db.commit()
        log.info("database migrated to schema version %d", current + 1)
