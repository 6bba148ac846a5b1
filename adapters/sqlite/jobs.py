"""The jobs and their input images."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import aiosqlite

from adapters.sqlite.codec import dumps, image_from_row, job_from_row, job_values
from adapters.sqlite.connection import SqliteConnection
from core.errors import BotError, ErrorCode
from core.jobs import InputImage, Job

_JOB_COLUMNS = (
    "id",
    "platform",
    "workspace_id",
    "user_id",
    "model",
    "kind",
    "endpoint",
    "arguments",
    "estimate_usd",
    "estimate_micros",
    "credits",
    "state",
    "final",
    "created_us",
    "updated_us",
    "reply_ref",
    "input_count",
    "request_id",
    "result",
    "error",
    "parent_job_id",
    "price_base_usd",
    "nsfw_channel",
    "nsfw_input",
)  # every column but credits_settled, which only settle_job changes, and the limits below
# The bucket limits a job was admitted under: written once, at admission, for its settlement.
_ADMITTED_COLUMNS = (*_JOB_COLUMNS, "limit_capacity", "limit_refill_per_hour")
_INSERT_JOB = (
    f"INSERT INTO jobs ({', '.join(_ADMITTED_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _ADMITTED_COLUMNS)})"
)
# save_job leaves reply_ref alone: only set_reply_ref changes it after admission, so a job saved
# from a copy read before the adapter named its message never loses that name.
_UPDATE_JOB = (
    "UPDATE jobs SET "
    + ", ".join(f"{c} = :{c}" for c in _JOB_COLUMNS if c not in ("id", "reply_ref"))
    + " WHERE id = :id"
)
_INSERT_INPUTS = (
    "INSERT INTO job_inputs (job_id, idx, content_type, data, url, width, height) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


class JobTables(SqliteConnection):
    async def get_job(self, job_id: str) -> Job | None:
        rows = await self._rows("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return job_from_row(rows[0]) if rows else None

    async def save_job(self, job: Job) -> None:
        cursor = await self._statement(_UPDATE_JOB, job_values(job))
        if cursor.rowcount == 0:
            raise BotError(ErrorCode.NOT_FOUND, f"There is no job {job.short_id}.")

    async def set_reply_ref(self, job_id: str, reply_ref: Mapping[str, Any]) -> None:
        cursor = await self._statement(
            "UPDATE jobs SET reply_ref = ? WHERE id = ?", (dumps(reply_ref), job_id)
        )
        if cursor.rowcount == 0:
            raise BotError(ErrorCode.NOT_FOUND, f"There is no job {job_id[:8]}.")

    async def job_inputs(self, job_id: str) -> list[InputImage]:
        rows = await self._rows("SELECT * FROM job_inputs WHERE job_id = ? ORDER BY idx", (job_id,))
        return [image_from_row(r) for r in rows]

    async def drop_job_inputs(self, job_id: str) -> None:
        await self._statement("DELETE FROM job_inputs WHERE job_id = ?", (job_id,))

    async def unfinished_jobs(self) -> list[Job]:
        return await self._jobs("SELECT * FROM jobs WHERE final = 0 ORDER BY created_us, rowid", ())

    async def user_jobs(self, workspace_id: str, user_id: str, *, limit: int) -> list[Job]:
        return await self._jobs(
            "SELECT * FROM jobs WHERE workspace_id = ? AND user_id = ? "
            "ORDER BY created_us DESC, rowid DESC LIMIT ?",
            (workspace_id, user_id, limit),
        )

    async def jobs_by_prefix(self, workspace_id: str, prefix: str, *, limit: int) -> list[Job]:
        return await self._jobs(
            "SELECT * FROM jobs WHERE workspace_id = ? AND substr(id, 1, ?) = ? "
            "ORDER BY created_us DESC, rowid DESC LIMIT ?",
            (workspace_id, len(prefix), prefix, limit),
        )

    async def _jobs(self, sql: str, params: tuple[Any, ...]) -> list[Job]:
        return [job_from_row(r) for r in await self._rows(sql, params)]

    # buckets


async def insert_job(db: aiosqlite.Connection, job: Job, *, images: Sequence[InputImage]) -> bool:
    """Insert an admitted job and its input images; False (and nothing written) when a job
    with its id is stored already."""
    # A plain INSERT: an ON CONFLICT clause here tripled admission's p99 (bench/engine.py).
    try:
        await db.execute(_INSERT_JOB, job_values(job))
    except sqlite3.IntegrityError as error:
        if error.sqlite_errorname == "SQLITE_CONSTRAINT_PRIMARYKEY":
            return False
        raise
    if images:
        await db.executemany(
            _INSERT_INPUTS,
            [
                (job.id, i, im.content_type, im.data, im.url, im.width, im.height)
                for i, im in enumerate(images)
            ],
        )
    return True


async def update_job(db: aiosqlite.Connection, job: Job) -> None:
    cursor = await db.execute(_UPDATE_JOB, job_values(job))
    if cursor.rowcount == 0:
        raise BotError(ErrorCode.NOT_FOUND, f"There is no job {job.short_id}.")
