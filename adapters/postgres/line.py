"""The shared line and the fal slots, in the database every process uses.

A queued job with no owner waits in the line. A process claims the next one fairly (the user
served longest ago first, then the oldest of that user's jobs) in one statement that also
counts the slots every process holds at fal (`falbot_claim`, a function of migration 3): the
advisory lock `LINE_LOCK` makes claims one at a time across processes, so the count cannot be
exceeded, and `FOR UPDATE SKIP LOCKED` passes over a job another transaction holds (a cancel
taking it out, say).

A job a process works on is owned by it until `lease_until`, which the owner renews every few
seconds. When the lease runs out (the process died), another process takes the job over
(`take_over`) and resumes it; so does a job nobody owns outside the line (moved from SQLite by
`falbot migrate-db`). Every change to a job is fenced on its owner: a process whose job
was taken over can no longer write it (`LeaseLost`).

Wake-ups go by LISTEN/NOTIFY: `falbot_line` when a job enters the line or a slot frees,
`falbot_outcome` when a fal webhook's outcome is kept for the process following its job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import asyncpg

from adapters.postgres.codec import job_from_row
from adapters.postgres.connection import PostgresConnection
from core.jobs import Job

log = logging.getLogger(__name__)

LINE_CHANNEL = "falbot_line"
OUTCOME_CHANNEL = "falbot_outcome"

_WAITING = "state = 'queued' AND owner IS NULL"

_TAKE_OVER = """
UPDATE jobs SET owner = $1, lease_until = now() + $2::interval
WHERE id IN (
    SELECT id FROM jobs
    WHERE NOT final AND platform = ANY($3::text[])
      AND (owner <> $1 AND lease_until < now()
           OR owner IS NULL AND state <> 'queued'
           OR $5 AND owner = $1)
    ORDER BY seq LIMIT $4
    FOR UPDATE SKIP LOCKED
)
RETURNING *
"""


class LineTables(PostgresConnection):
    """The `LineStore` port (core/ports.py). `instance` names this process in `owner`."""

    _listener: asyncpg.Connection[asyncpg.Record] | None = None

    async def claim_next(self, *, limit: int) -> str | None:
        """The next waiting job, now owned by this process and holding a fal slot; None when
        the line is empty or every one of the `limit` slots is taken (by any process)."""
        # One statement (migration 3's function, see there), committed on its own: one round
        # trip, and the line's lock is held only while the server runs it.
        async with self._connection() as db:
            job_id = await db.fetchval(
                "SELECT falbot_claim($1, $2, $3)", self.instance, self.lease, limit
            )
        return None if job_id is None else str(job_id)

    async def enter_line(self, job_id: str) -> None:
        """Put a queued job (owned by this process, or by a dead one being taken over) in the
        line, holding no slot, and wake every process waiting for one."""
        async with self._connection() as db:  # one statement: committed, then notified
            await db.execute(
                "WITH entered AS (UPDATE jobs SET owner = NULL, lease_until = NULL, "
                "slot_held = FALSE WHERE id = $1 AND state = 'queued') "
                "SELECT pg_notify($2, '')",
                job_id,
                LINE_CHANNEL,
            )

    async def take_waiting(self, job_id: str) -> bool:
        """Take a job out of the line (to cancel it): False when it is not waiting there
        (already claimed by a process, or not queued)."""
        async with self._tx() as db:
            taken = await db.fetchval(
                f"UPDATE jobs SET owner = $2, lease_until = now() + $3::interval "
                f"WHERE id = (SELECT id FROM jobs WHERE id = $1 AND {_WAITING} "
                f"FOR UPDATE SKIP LOCKED) RETURNING id",
                job_id,
                self.instance,
                self.lease,
            )
            return taken is not None

    async def free_slot(self, job_id: str) -> None:
        """fal is done with the job: its slot goes to whichever process claims next."""
        async with self._connection() as db:  # one statement; notified only when it freed
            await db.execute(
                "WITH freed AS (UPDATE jobs SET slot_held = FALSE WHERE id = $1 AND slot_held "
                "RETURNING id) SELECT pg_notify($2, '') FROM freed",
                job_id,
                LINE_CHANNEL,
            )

    async def slots_in_use(self) -> int:
        async with self._tx(write=False) as db:
            return int(await db.fetchval("SELECT count(*) FROM jobs WHERE slot_held"))

    async def waiting_line(self, *, limit: int) -> tuple[list[str], int]:
        """The first `limit` waiting jobs in the order they will be served, and how many wait
        in all."""
        # One statement (the dispatcher asks after every claim): the count and the rows read
        # from one snapshot. No rows means nobody waits.
        async with self._connection() as db:
            rows = await db.fetch(
                "SELECT j.id, j.workspace_id, j.user_id, COALESCE(t.served, 0) AS served, "
                f"(SELECT count(*) FROM jobs WHERE {_WAITING}) AS total "
                "FROM jobs j LEFT JOIN line_turns t "
                "ON t.workspace_id = j.workspace_id AND t.user_id = j.user_id "
                f"WHERE j.{_WAITING.replace(' AND owner', ' AND j.owner')} "
                "ORDER BY j.seq LIMIT $1",
                max(1, limit),
            )
        total = int(rows[0]["total"]) if rows else 0
        return serving_order(rows)[:limit], total

    async def renew_leases(self) -> int:
        """Extend the lease on every unfinished job this process owns; how many."""
        async with self._tx() as db:
            status = await db.execute(
                "UPDATE jobs SET lease_until = now() + $2::interval WHERE owner = $1 AND NOT final",
                self.instance,
                self.lease,
            )
            return int(status.split()[-1])

    async def release_leases(self) -> int:
        """Stopping: let other processes take this one's unfinished jobs at once."""
        async with self._tx() as db:
            status = await db.execute(
                "UPDATE jobs SET lease_until = now() - interval '1 second' "
                "WHERE owner = $1 AND NOT final",
                self.instance,
            )
            await db.execute("SELECT pg_notify($1, '')", LINE_CHANNEL)
            return int(status.split()[-1])

    async def take_over(
        self, platforms: Sequence[str], *, limit: int = 100, own: bool = False
    ) -> list[Job]:
        """Own the unfinished jobs (of these platforms) whose owner's lease ran out; with
        `own`, also the ones owned under this process's name (a life before a restart)."""
        async with self._tx() as db:
            rows = await db.fetch(
                _TAKE_OVER, self.instance, self.lease, list(platforms), limit, own
            )
        return sorted((job_from_row(r) for r in rows), key=lambda job: job.created_at)

    async def save_outcome(self, request_id: str, outcome: Mapping[str, Any]) -> None:
        """Keep a fal webhook's outcome for the process that follows its job, and tell it."""
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO fal_outcomes (request_id, outcome) VALUES ($1, $2) "
                "ON CONFLICT (request_id) DO NOTHING",
                request_id,
                dict(outcome),
            )
            await db.execute("SELECT pg_notify($1, $2)", OUTCOME_CHANNEL, request_id)

    async def outcome(self, request_id: str) -> Mapping[str, Any] | None:
        async with self._tx(write=False) as db:
            value = await db.fetchval(
                "SELECT outcome FROM fal_outcomes WHERE request_id = $1", request_id
            )
        return None if value is None else dict(value)

    async def listen(self, *, line: Callable[[], None], outcome: Callable[[str], None]) -> None:
        """Call `line()` when a job enters the line or a slot frees anywhere, `outcome(id)`
        when a webhook's outcome is kept, from now until `unlisten` (on a connection of its
        own, outside the pool). A lost connection only slows wake-ups down to the poll."""
        await self.unlisten()
        listener: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(self.dsn)

        def on_notify(_db: object, _pid: int, channel: str, payload: object) -> None:
            if channel == LINE_CHANNEL:
                line()
            else:
                outcome(str(payload))

        await listener.add_listener(LINE_CHANNEL, on_notify)
        await listener.add_listener(OUTCOME_CHANNEL, on_notify)
        self._listener = listener

    async def unlisten(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncio.TimeoutError):
                await listener.close(timeout=2)

    @property
    def listening(self) -> bool:
        return self._listener is not None and not self._listener.is_closed()


def serving_order(rows: Sequence[asyncpg.Record]) -> list[str]:
    """Waiting jobs (in the order they came) in the order the line serves them: round-robin
    over their users, the user served longest ago first, as `claim_next` picks."""
    by_user: dict[tuple[str, str], list[str]] = {}
    served: dict[tuple[str, str], int] = {}
    for row in rows:
        user = (row["workspace_id"], row["user_id"])
        by_user.setdefault(user, []).append(str(row["id"]))
        served[user] = int(row["served"])
    users = sorted(by_user, key=lambda u: served[u])  # stable: ties keep arrival order
    order: list[str] = []
    depth = 0
    while len(order) < len(rows):
        for user in users:
            if depth < len(by_user[user]):
                order.append(by_user[user][depth])
        depth += 1
    return order
