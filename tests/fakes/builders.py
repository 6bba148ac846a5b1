"""Small builders for core values in tests: sensible defaults, override what a test is about."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from core.admission import admit_job
from core.jobs import InputImage, Job, JobKind, JobState
from core.ports import Store
from core.quota import BucketLimits
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


async def admit(
    store: Store,
    job: Job,
    *,
    images: Sequence[InputImage] = (),
    roles: Sequence[str] = (),
    capacity: Decimal | int = 100,
    refill_per_hour: Decimal | int = 50,
    max_in_flight: int = 100,
    now: datetime | None = None,
) -> Job:
    """Admit `job` into `store` as the engine does (core's rules, the store's unit of work),
    with `capacity` and `refill_per_hour` as the default quota; returns the job as stored."""
    return await admit_job(
        store,
        job,
        images=images,
        roles=roles,
        default_limits=BucketLimits(Decimal(capacity), Decimal(refill_per_hour)),
        max_in_flight=max_in_flight,
        now=now if now is not None else job.created_at,
    )
