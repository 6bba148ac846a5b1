"""The schema, as numbered migrations applied once each and recorded in `schema_version`."""

from __future__ import annotations

import logging

import asyncpg

log = logging.getLogger(__name__)

# Every process migrates under this advisory lock (a constant of falbot's own), so two starting
# at the same moment apply each migration once, one after the other.
MIGRATION_LOCK = 0x6661_6C62_6F74  # "falbot"
# Claims of the shared line take this transaction-level advisory lock ("line"), one at a time.
LINE_LOCK = 0x6C69_6E65

# Money and credits are NUMERIC (exact; never float), times TIMESTAMPTZ (aware, UTC), JSON
# JSONB. `seq` keeps the order jobs were stored in, for ties between equal times. A bucket row
# whose `level` is NULL was never used: admission inserts it to have a row to lock.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            seq BIGINT GENERATED ALWAYS AS IDENTITY,
            platform TEXT NOT NULL,
            workspace_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            model TEXT NOT NULL,
            kind TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            arguments JSONB NOT NULL,
            estimate_usd NUMERIC NOT NULL,
            credits NUMERIC NOT NULL,
            state TEXT NOT NULL,
            final BOOLEAN NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            reply_ref JSONB NOT NULL,
            input_count INTEGER NOT NULL,
            request_id TEXT,
            result JSONB,
            error JSONB,
            credits_settled BOOLEAN NOT NULL DEFAULT FALSE,
            parent_job_id TEXT,
            limit_capacity NUMERIC,
            limit_refill_per_hour NUMERIC,
            price_base_usd NUMERIC,
            nsfw_channel BOOLEAN NOT NULL DEFAULT FALSE,
            nsfw_input BOOLEAN NOT NULL DEFAULT FALSE
        )""",
        "CREATE INDEX jobs_user ON jobs (workspace_id, user_id, created_at)",
        "CREATE INDEX jobs_live ON jobs (created_at, seq) WHERE NOT final",
        "CREATE INDEX jobs_live_user ON jobs (workspace_id, user_id) WHERE NOT final",
        "CREATE INDEX jobs_pending ON jobs (workspace_id) WHERE NOT final AND NOT credits_settled",
        """CREATE TABLE job_inputs (
            job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            content_type TEXT NOT NULL,
            data BYTEA,
            url TEXT,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            PRIMARY KEY (job_id, idx)
        )""",
        """CREATE TABLE buckets (
            workspace_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            level NUMERIC,
            updated_at TIMESTAMPTZ,
            PRIMARY KEY (workspace_id, user_id)
        )""",
        """CREATE TABLE ledger (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            job_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            workspace_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            model TEXT NOT NULL,
            cost_usd NUMERIC NOT NULL,
            credits NUMERIC NOT NULL,
            at TIMESTAMPTZ NOT NULL,
            UNIQUE (job_id, kind)
        )""",
        "CREATE INDEX ledger_workspace ON ledger (workspace_id, at)",
        """CREATE TABLE quotas (
            workspace_id TEXT NOT NULL,
            scope TEXT NOT NULL,
            target_id TEXT NOT NULL,
            capacity NUMERIC NOT NULL,
            refill_per_hour NUMERIC NOT NULL,
            PRIMARY KEY (workspace_id, scope, target_id)
        )""",
        """CREATE TABLE budgets (
            workspace_id TEXT PRIMARY KEY,
            daily_usd NUMERIC,
            monthly_usd NUMERIC
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
        "CREATE TABLE workspace_nsfw (workspace_id TEXT PRIMARY KEY, mode TEXT NOT NULL)",
        "CREATE TABLE dedupe (key TEXT PRIMARY KEY, seen_at TIMESTAMPTZ NOT NULL)",
        "CREATE INDEX dedupe_seen ON dedupe (seen_at)",
        "CREATE TABLE bot_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    # 2: the shared line (adapters/postgres/line.py). A job is owned by the process working on
    # it (`owner`, until `lease_until`, renewed while it lives); a queued job with no owner
    # waits in the line; `slot_held` counts the job against FALBOT_MAX_CONCURRENCY across every
    # process. `line_turns` keeps when each user was last served (round-robin); `fal_outcomes`
    # keeps a webhook's outcome for the process that follows its job.
    (
        "ALTER TABLE jobs ADD COLUMN owner TEXT",
        "ALTER TABLE jobs ADD COLUMN lease_until TIMESTAMPTZ",
        "ALTER TABLE jobs ADD COLUMN slot_held BOOLEAN NOT NULL DEFAULT FALSE",
        "CREATE INDEX jobs_waiting ON jobs (seq) WHERE state = 'queued' AND owner IS NULL",
        "CREATE INDEX jobs_slots ON jobs (id) WHERE slot_held",
        "CREATE INDEX jobs_owned ON jobs (owner, lease_until) WHERE NOT final",
        """CREATE TABLE line_turns (
            workspace_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            served BIGINT NOT NULL,
            PRIMARY KEY (workspace_id, user_id)
        )""",
        "CREATE SEQUENCE line_turn_seq",
        """CREATE TABLE fal_outcomes (
            request_id TEXT PRIMARY KEY,
            outcome JSONB NOT NULL,
            received_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )""",
    ),
    # 3: a claim in one statement (adapters/postgres/line.py). The same steps as migration 2's
    # claim took from the client one round trip each (the line's lock, the count of slots
    # held, the fair pick, the user's turn), run inside the server: the lock is held for
    # microseconds, not for four round trips of a process that may be descheduled meanwhile.
    # Each statement of a VOLATILE function in READ COMMITTED sees what committed before it
    # began, so the count, taken once the lock is held, sees every earlier claim. A claim
    # that cannot succeed (no slot free, nobody waiting, as read before the lock) returns at
    # once without queueing for the lock: a slot freed or a job entering the line after that
    # read is notified once committed, and the notified process claims again.
    (
        f"""CREATE FUNCTION falbot_claim(p_owner TEXT, p_lease INTERVAL, p_slots INTEGER)
        RETURNS TEXT LANGUAGE plpgsql VOLATILE AS $$
        DECLARE
            picked RECORD;
        BEGIN
            IF (SELECT count(*) FROM jobs WHERE slot_held) >= p_slots
                OR NOT EXISTS (SELECT 1 FROM jobs WHERE state = 'queued' AND owner IS NULL)
            THEN
                RETURN NULL;
            END IF;
            PERFORM pg_advisory_xact_lock({LINE_LOCK});
            IF (SELECT count(*) FROM jobs WHERE slot_held) >= p_slots THEN
                RETURN NULL;
            END IF;
            WITH next AS (
                SELECT j.id FROM jobs j
                LEFT JOIN line_turns t
                    ON t.workspace_id = j.workspace_id AND t.user_id = j.user_id
                WHERE j.state = 'queued' AND j.owner IS NULL
                ORDER BY COALESCE(t.served, 0), j.seq
                LIMIT 1
                FOR UPDATE OF j SKIP LOCKED
            )
            UPDATE jobs SET owner = p_owner, lease_until = now() + p_lease, slot_held = TRUE
            FROM next WHERE jobs.id = next.id
            RETURNING jobs.id, jobs.workspace_id, jobs.user_id INTO picked;
            IF NOT FOUND THEN
                RETURN NULL;
            END IF;
            INSERT INTO line_turns (workspace_id, user_id, served)
            VALUES (picked.workspace_id, picked.user_id, nextval('line_turn_seq'))
            ON CONFLICT (workspace_id, user_id) DO UPDATE SET served = excluded.served;
            RETURN picked.id;
        END
        $$""",
    ),
)

LATEST = len(MIGRATIONS)
# Every table but schema_version, children first (tests empty them between runs).
TABLES = (
    "job_inputs",
    "jobs",
    "buckets",
    "ledger",
    "quotas",
    "budgets",
    "denied_models",
    "bans",
    "workspace_nsfw",
    "dedupe",
    "bot_state",
    "line_turns",
    "fal_outcomes",
)


async def migrate(db: asyncpg.Connection[asyncpg.Record]) -> int:
    """Apply the migrations the database has not seen; return its version afterwards.

    All of it happens under a session advisory lock, and each migration is one transaction
    together with its `schema_version` row: a second process waits for the first, then finds
    nothing left to do; a crash leaves the database at one version or the next."""
    await db.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await db.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            "version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        current = int(await db.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version"))
        if current > LATEST:
            raise RuntimeError(
                f"the database is at schema version {current}, newer than this falbot knows "
                f"({LATEST}); upgrade falbot"
            )
        while current < LATEST:
            async with db.transaction():
                for statement in MIGRATIONS[current]:
                    await db.execute(statement)
                await db.execute("INSERT INTO schema_version (version) VALUES ($1)", current + 1)
            current += 1
            log.info("database migrated to schema version %d", current)
        return current
    finally:
        await db.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
