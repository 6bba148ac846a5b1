"""The jobs and their input images."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import asyncpg

from adapters.postgres.codec import (
    ADMITTED_COLUMNS,
    JOB_COLUMNS,
    Connection,
    image_from_row,
    job_from_row,
    job_values,
)
from adapters.postgres.connection import PostgresConnection
from core.errors import BotError, ErrorCode, LeaseLost
from core.jobs import InputImage, Job

# An admitted job is owned by the process that admitted it until it enters the line.
_N = len(ADMITTED_COLUMNS)
_INSERT_JOB = (
    f"INSERT INTO jobs ({', '.join(ADMITTED_COLUMNS)}, owner, lease_until) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, _N + 1))}, ${_N + 1}, now() + ${_N + 2}) "
    "ON CONFLICT (id) DO NOTHING"
)
# save_job leaves reply_ref alone: only set_reply_ref changes it after admission, so a job saved
# from a copy read before the adapter named its message never loses that name.
_UPDATED = [c for c in JOB_COLUMNS if c not in ("id", "reply_ref")]
# A job past fal (completed, or ended) holds no fal slot: written so, it gives its slot up even
# when freeing it on its own failed (the database out of reach a moment), so a slot is never
# lost while the job waits to be delivered. Only its owner (or nobody, while it waits in the
# line) may write it: a process whose job another took over (its lease ran out) writes nothing.
_FINAL = _UPDATED.index("final") + 2
_STATE = _UPDATED.index("state") + 2
_OWNER = len(_UPDATED) + 2
_UPDATE_JOB = (
    "UPDATE jobs SET "
    + ", ".join(f"{c} = ${i}" for i, c in enumerate(_UPDATED, start=2))
    + f", slot_held = slot_held AND NOT (${_FINAL} OR ${_STATE} = 'completed')"
    + f" WHERE id = $1 AND (owner IS NULL OR owner = ${_OWNER})"
)
_INSERT_INPUTS = (
    "INSERT INTO job_inputs (job_id, idx, content_type, data, url, width, height) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7)"
)


class JobTables(PostgresConnection):
    async def get_job(self, job_id: str) -> Job | None:
        async with self._connection() as db:
            row = await db.fetchrow("SELECT * FROM jobs WHERE id = $1", job_id)
        return None if row is None else job_from_row(row)

    async def save_job(self, job: Job) -> None:
        async with self._connection() as db:
            await update_job(db, job, owner=self.instance)

    async def set_reply_ref(self, job_id: str, reply_ref: Mapping[str, Any]) -> None:
        async with self._connection() as db:
            status = await db.execute(
                "UPDATE jobs SET reply_ref = $2 WHERE id = $1", job_id, dict(reply_ref)
            )
            if status == "UPDATE 0":
                raise BotError(ErrorCode.NOT_FOUND, f"There is no job {job_id[:8]}.")

    async def job_inputs(self, job_id: str) -> list[InputImage]:
        async with self._connection() as db:
            rows = await db.fetch("SELECT * FROM job_inputs WHERE job_id = $1 ORDER BY idx", job_id)
        return [image_from_row(r) for r in rows]

    async def drop_job_inputs(self, job_id: str) -> None:
        async with self._connection() as db:
            await db.execute("DELETE FROM job_inputs WHERE job_id = $1", job_id)

    async def unfinished_jobs(self) -> list[Job]:
        return await self._jobs("SELECT * FROM jobs WHERE NOT final ORDER BY created_at, seq")

    async def user_jobs(self, workspace_id: str, user_id: str, *, limit: int) -> list[Job]:
        return await self._jobs(
            "SELECT * FROM jobs WHERE workspace_id = $1 AND user_id = $2 "
            "ORDER BY created_at DESC, seq DESC LIMIT $3",
            workspace_id,
            user_id,
            limit,
        )

    async def jobs_by_prefix(self, workspace_id: str, prefix: str, *, limit: int) -> list[Job]:
        return await self._jobs(
            "SELECT * FROM jobs WHERE workspace_id = $1 AND starts_with(id, $2) "
            "ORDER BY created_at DESC, seq DESC LIMIT $3",
            workspace_id,
            prefix,
            limit,
        )

    async def _jobs(self, sql: str, *params: Any) -> list[Job]:
        async with self._connection() as db:
            rows = await db.fetch(sql, *params)
        return [job_from_row(r) for r in rows]


async def insert_job(
    db: Connection,
    job: Job,
    *,
    images: Sequence[InputImage],
    owner: str,
    lease: timedelta,
) -> bool:
    """Insert an admitted job (owned by `owner` for `lease`) and its input images; False (and
    nothing written) when a job with its id is stored already."""
    values = job_values(job)
    inserted: asyncpg.Record | None = await db.fetchrow(
        _INSERT_JOB + " RETURNING id", *(values[c] for c in ADMITTED_COLUMNS), owner, lease
    )
    if inserted is None:
        return False
    if images:
        await db.executemany(
            _INSERT_INPUTS,
            [
                (job.id, i, im.content_type, im.data, im.url, im.width, im.height)
                for i, im in enumerate(images)
            ],
        )
    return True


async def update_job(db: Connection, job: Job, *, owner: str) -> None:
    """Write the job, if `owner` (this process) owns it or nobody does."""
    values = job_values(job)
    status = await db.execute(_UPDATE_JOB, job.id, *(values[c] for c in _UPDATED), owner)
    if status == "UPDATE 0":
        holder = await db.fetchval("SELECT owner FROM jobs WHERE id = $1", job.id)
        if holder is not None:
            raise LeaseLost(job.id, holder)
        raise BotError(ErrorCode.NOT_FOUND, f"There is no job {job.short_id}.")
