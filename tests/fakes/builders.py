"""Small builders for core values in tests: sensible defaults, override what a test is about."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from core.jobs import Job, JobKind, JobState
from core.quota import Admission, BucketKey, BucketLimits, BudgetCheck
from tests.fakes.clock import START


def make_job(**overrides: Any) -> Job:
    """A queued nano-banana job for user `u1` in workspace `w1`; any field can be overridden."""
    at: datetime = overrides.pop("created_at", START)
    fields: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "platform": "console",
        "workspace_id": "w1",
        "user_id": "u1",
        "model": "nano-banana",
        "kind": JobKind.IMAGE,
        "endpoint": "fal-ai/nano-banana",
        "arguments": {"prompt": "a red fox in the snow", "num_images": 1},
        "estimate_usd": Decimal("0.039"),
        "credits": Decimal("3.9"),
        "state": JobState.QUEUED,
        "created_at": at,
        "updated_at": at,
    }
    fields.update(overrides)
    return Job(**fields)


def make_admission(
    job: Job,
    *,
    capacity: Decimal | int = 100,
    refill_per_hour: Decimal | int = 50,
    max_in_flight: int = 100,
    budget: BudgetCheck | None = None,
    now: datetime | None = None,
) -> Admission:
    """The admission of `job` into its own user's bucket."""
    return Admission(
        bucket=BucketKey(job.workspace_id, job.user_id),
        limits=BucketLimits(Decimal(capacity), Decimal(refill_per_hour)),
        max_in_flight=max_in_flight,
        budget=budget,
        now=now if now is not None else job.created_at,
    )
