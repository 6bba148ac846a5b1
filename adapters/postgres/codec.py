"""Conversions between core values and what PostgreSQL stores: NUMERIC money, TIMESTAMPTZ
times, JSONB documents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeAlias

import asyncpg

from core.errors import BotError
from core.jobs import InputImage, Job, JobKind, JobResult, JobState
from core.quota import BucketLimits

# A connection of the store's pool, as its methods use it.
Connection: TypeAlias = "asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"

# Every job column but `seq`, `credits_settled` (only settle_job changes it) and the admitted
# limits (written once, at admission, for the job's settlement).
JOB_COLUMNS = (
    "id",
    "platform",
    "workspace_id",
    "user_id",
    "model",
    "kind",
    "endpoint",
    "arguments",
    "estimate_usd",
    "credits",
    "state",
    "final",
    "created_at",
    "updated_at",
    "reply_ref",
    "input_count",
    "request_id",
    "result",
    "error",
    "parent_job_id",
    "price_base_usd",
    "nsfw_channel",
    "nsfw_input",
)
ADMITTED_COLUMNS = (*JOB_COLUMNS, "limit_capacity", "limit_refill_per_hour")


def aware(at: datetime) -> datetime:
    """`at`, refused when naive: falbot only stores time-zone-aware times."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: falbot only stores time-zone-aware times")
    return at


def utc(at: datetime) -> datetime:
    """A time read back, in UTC (asyncpg gives TIMESTAMPTZ as aware datetimes)."""
    return at.astimezone(UTC)


def job_values(job: Job) -> dict[str, Any]:
    """The job's column values, named as in `ADMITTED_COLUMNS`."""
    return {
        "id": job.id,
        "platform": job.platform,
        "workspace_id": job.workspace_id,
        "user_id": job.user_id,
        "model": job.model,
        "kind": job.kind.value,
        "endpoint": job.endpoint,
        "arguments": dict(job.arguments),
        "estimate_usd": job.estimate_usd,
        "credits": job.credits,
        "state": job.state.value,
        "final": job.state.final,
        "created_at": aware(job.created_at),
        "updated_at": aware(job.updated_at),
        "reply_ref": dict(job.reply_ref),
        "input_count": job.input_count,
        "request_id": job.request_id,
        "result": job.result.to_dict() if job.result is not None else None,
        "error": job.error.to_dict() if job.error is not None else None,
        "parent_job_id": job.parent_job_id,
        "price_base_usd": job.price_base_usd,
        "nsfw_channel": job.nsfw_channel,
        "nsfw_input": job.nsfw_input,
        "limit_capacity": None if job.limits is None else job.limits.capacity,
        "limit_refill_per_hour": None if job.limits is None else job.limits.refill_per_hour,
    }


def job_from_row(row: asyncpg.Record) -> Job:
    capacity, refill = row["limit_capacity"], row["limit_refill_per_hour"]
    return Job(
        id=row["id"],
        platform=row["platform"],
        workspace_id=row["workspace_id"],
        user_id=row["user_id"],
        model=row["model"],
        kind=JobKind(row["kind"]),
        endpoint=row["endpoint"],
        arguments=row["arguments"],
        estimate_usd=row["estimate_usd"],
        credits=row["credits"],
        state=JobState(row["state"]),
        created_at=utc(row["created_at"]),
        updated_at=utc(row["updated_at"]),
        reply_ref=row["reply_ref"],
        input_count=row["input_count"],
        request_id=row["request_id"],
        result=JobResult.from_dict(row["result"]) if row["result"] else None,
        error=BotError.from_dict(row["error"]) if row["error"] else None,
        credits_settled=row["credits_settled"],
        parent_job_id=row["parent_job_id"],
        limits=None if capacity is None else BucketLimits(capacity, refill),
        price_base_usd=row["price_base_usd"],
        nsfw_channel=row["nsfw_channel"],
        nsfw_input=row["nsfw_input"],
    )


def image_from_row(row: asyncpg.Record) -> InputImage:
    return InputImage(
        content_type=row["content_type"],
        data=row["data"],
        url=row["url"],
        width=row["width"],
        height=row["height"],
    )
