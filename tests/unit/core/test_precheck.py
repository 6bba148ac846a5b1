"""`Engine.precheck`: before an adapter fetches a request's images, what admission would refuse
anyway is refused, reading only, in admission's own words; nothing is written."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.jobs import Actor, JobKind
from core.media import validate_image
from core.quota import BucketLimits, Budget, LedgerEntry, QuotaScope
from tests.fakes.asking import Ask, precheck, submit
from tests.fakes.clock import FakeClock
from tests.fakes.fal import png_bytes
from tests.fakes.memory_store import MemoryStore
from tests.fakes.reply import RecordingReply
from tests.unit.core.conftest import ALICE, EngineFactory

EDIT = {"prompt": "give it a hat"}  # nano-banana-edit: $0.039, 3.9 credits


def draft(actor: Actor = ALICE, model: str = "", **params: object) -> Ask:
    """A request as an adapter has it before its images are fetched."""
    return Ask(actor, model, {**EDIT, **params}, kind=JobKind.EDIT)


async def refused_alike(engine: Engine, request: Ask) -> BotError:
    """The pre-check's refusal, checked to be the one admission gives the full request."""
    with pytest.raises(BotError) as early:
        await precheck(engine, request)
    image = validate_image(png_bytes(), max_bytes=10**6)
    with pytest.raises(BotError) as admitted:
        await submit(engine, dataclasses.replace(request, images=(image,)), RecordingReply())
    assert (early.value.code, early.value.message) == (admitted.value.code, admitted.value.message)
    return early.value


def untouched(store: MemoryStore) -> None:
    assert store.jobs == {} and store.buckets == {} and store.entries == []


async def test_a_banned_user_is_refused(engine: Engine, store: MemoryStore) -> None:
    await store.set_banned(ALICE.workspace_id, ALICE.user_id, True)
    error = await refused_alike(engine, draft())
    assert error.code is ErrorCode.NOT_ALLOWED and "not allowed to use falbot" in error.message
    untouched(store)


async def test_a_model_the_workspace_denies_is_refused(engine: Engine, store: MemoryStore) -> None:
    await store.set_model_denied(ALICE.workspace_id, "gpt-image-edit", True)
    error = await refused_alike(engine, draft(model="gpt-image-edit"))
    assert error.message == "gpt-image-edit is not allowed in this workspace."
    await precheck(engine, draft())  # another edit model is fine
    untouched(store)


async def test_a_job_the_bucket_cannot_hold_is_refused(engine: Engine, store: MemoryStore) -> None:
    await store.set_quota(
        ALICE.workspace_id, QuotaScope.USER, ALICE.user_id, BucketLimits(Decimal(3), Decimal(1))
    )
    error = await refused_alike(engine, draft())
    assert error.code is ErrorCode.QUOTA_EXHAUSTED and "more than your quota" in error.message
    untouched(store)


async def test_a_bucket_too_low_for_now_is_refused_with_its_wait(
    make_engine: EngineFactory, store: MemoryStore
) -> None:
    engine = await make_engine(default_limits=BucketLimits(Decimal(10), Decimal(36)))
    image = validate_image(png_bytes(), max_bytes=10**6)
    await submit(engine, Ask(ALICE, "", EDIT, (image,), kind=JobKind.EDIT), RecordingReply())
    await submit(
        engine, Ask(ALICE, "", EDIT, (image,), kind=JobKind.EDIT), RecordingReply()
    )  # 2.2 left
    error = await refused_alike(engine, draft())
    assert error.retry_after == 170.0  # 1.7 credits at 36 an hour
    other = Actor("console", ALICE.workspace_id, "bob")
    await precheck(engine, draft(other))  # bob's own bucket is full


async def test_a_spent_budget_is_refused(
    engine: Engine, store: MemoryStore, clock: FakeClock
) -> None:
    await store.set_budget(ALICE.workspace_id, Budget(daily_usd=Decimal("0.05")))
    await precheck(engine, draft())  # $0.039 fits in $0.05
    spent = LedgerEntry(
        "j1", ALICE.workspace_id, "bob", "flux-dev", Decimal("0.02"), Decimal(2), clock.now()
    )
    store.entries.append(spent)
    error = await refused_alike(engine, draft())
    assert error.code is ErrorCode.BUDGET_EXHAUSTED and "daily budget" in error.message


async def test_bad_options_are_refused_before_any_image(engine: Engine, store: MemoryStore) -> None:
    error = await refused_alike(engine, draft(num_images=9))
    assert error.code is ErrorCode.INVALID_INPUT
    with pytest.raises(BotError) as caught:
        await precheck(engine, draft(model="flux-dev"))
    assert caught.value.code is ErrorCode.INVALID_INPUT  # an image model, not an edit one
    untouched(store)


async def test_a_request_that_fits_passes_and_nothing_is_written(
    engine: Engine, store: MemoryStore
) -> None:
    await precheck(engine, draft())
    await precheck(engine, draft(), images=3)
    await precheck(engine, Ask(ALICE, "", {"scale": 2}, kind=JobKind.UPSCALE))
    untouched(store)


async def test_a_stopped_engine_refuses_as_busy(engine: Engine) -> None:
    await engine.stop()
    with pytest.raises(BotError) as caught:
        await precheck(engine, draft())
    assert caught.value.code is ErrorCode.BUSY
