"""Conversions between core values and what SQLite stores: micro-dollars, epoch µs, JSON."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from typing import Any

from core.errors import BotError
from core.jobs import InputImage, Job, JobKind, JobResult, JobState
from core.quota import BucketLimits

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = Decimal("0.000001")


def to_micros(usd: Decimal, *, rounding: str = ROUND_HALF_EVEN) -> int:
    """USD as integer micro-dollars, the unit the ledger sums exactly."""
    return int((usd / _MICRO).to_integral_value(rounding=rounding))


def ceil_micros(usd: Decimal) -> int:
    """Micro-dollars rounded up: an estimate never counts for less than it is."""
    return to_micros(usd, rounding=ROUND_CEILING)


def from_micros(micros: int) -> Decimal:
    """Micro-dollars back to USD, without trailing zeros (`39000` → `0.039`)."""
    usd = Decimal(micros).scaleb(-6).normalize()
    return usd.quantize(Decimal(1)) if usd == usd.to_integral_value() else usd


def to_us(at: datetime) -> int:
    """An aware datetime as integer microseconds since the epoch (exact, sortable)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: falbot only stores time-zone-aware times")
    delta = at - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def dumps(value: Mapping[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), sort_keys=True)


def job_values(job: Job) -> dict[str, Any]:
    """The job as named SQL parameters (every column but `credits_settled`; the limit columns
    are written only when the job is admitted)."""
    return {
        "id": job.id,
        "platform": job.platform,
        "workspace_id": job.workspace_id,
        "user_id": job.user_id,
        "model": job.model,
        "kind": job.kind.value,
        "endpoint": job.endpoint,
        "arguments": dumps(job.arguments),
        "estimate_usd": str(job.estimate_usd),
        "estimate_micros": ceil_micros(job.estimate_usd),
        "credits": str(job.credits),
        "state": job.state.value,
        "final": int(job.state.final),
        "created_us": to_us(job.created_at),
        "updated_us": to_us(job.updated_at),
        "reply_ref": dumps(job.reply_ref),
        "input_count": job.input_count,
        "request_id": job.request_id,
        "result": dumps(job.result.to_dict()) if job.result is not None else None,
        "error": dumps(job.error.to_dict()) if job.error is not None else None,
        "parent_job_id": job.parent_job_id,
        "limit_capacity": None if job.limits is None else str(job.limits.capacity),
        "limit_refill_per_hour": None if job.limits is None else str(job.limits.refill_per_hour),
        "price_base_usd": None if job.price_base_usd is None else str(job.price_base_usd),
        "nsfw_channel": int(job.nsfw_channel),
        "nsfw_input": int(job.nsfw_input),
    }


def job_from_row(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        platform=row["platform"],
        workspace_id=row["workspace_id"],
        user_id=row["user_id"],
        model=row["model"],
        kind=JobKind(row["kind"]),
        endpoint=row["endpoint"],
        arguments=json.loads(row["arguments"]),
        estimate_usd=Decimal(row["estimate_usd"]),
        credits=Decimal(row["credits"]),
        state=JobState(row["state"]),
        created_at=from_us(row["created_us"]),
        updated_at=from_us(row["updated_us"]),
        reply_ref=json.loads(row["reply_ref"]),
        input_count=row["input_count"],
        request_id=row["request_id"],
        result=JobResult.from_dict(json.loads(row["result"])) if row["result"] else None,
        error=BotError.from_dict(json.loads(row["error"])) if row["error"] else None,
        credits_settled=bool(row["credits_settled"]),
        parent_job_id=row["parent_job_id"],
        limits=(
            None
            if row["limit_capacity"] is None
            else BucketLimits(Decimal(row["limit_capacity"]), Decimal(row["limit_refill_per_hour"]))
        ),
        price_base_usd=None if row["price_base_usd"] is None else Decimal(row["price_base_usd"]),
        nsfw_channel=bool(row["nsfw_channel"]),
        nsfw_input=bool(row["nsfw_input"]),
    )


def image_from_row(row: sqlite3.Row) -> InputImage:
    return InputImage(
        content_type=row["content_type"],
        data=row["data"],
        url=row["url"],
        width=row["width"],
        height=row["height"],
    )
