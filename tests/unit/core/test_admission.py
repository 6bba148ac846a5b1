"""Admission: schema, policy, token bucket, in-flight cap, budget. A refusal changes nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from core.admin import AdminService
from core.admin_commands import AllowModel, Ban, Refund, SetBudget, SetQuota
from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.jobs import Actor
from core.media import validate_image
from core.quota import BucketKey, BucketLimits, BucketState, QuotaScope, take
from tests.fakes.asking import Ask, submit
from tests.fakes.clock import START, FakeClock
from tests.fakes.fal import FakeFal, png_bytes
from tests.fakes.memory_store import MemoryStore
from tests.fakes.reply import RecordingReply
from tests.unit.core.conftest import ADMIN, ALICE, EngineFactory, request

LIMITS = BucketLimits(Decimal(10), Decimal(3600))  # 10 credits, one a second


def test_bucket_refills_lazily_and_says_when_to_retry_to_the_second() -> None:
    first = take(None, LIMITS, Decimal(10), START)
    assert first.ok and first.state.level == 0  # a new bucket starts full: the whole burst
    refused = take(first.state, LIMITS, Decimal(3), START)
    assert not refused.ok and refused.retry_after == 3.0
    later = START + timedelta(seconds=2.5)
    refused = take(first.state, LIMITS, Decimal(3), later)
    assert not refused.ok and refused.retry_after == 1.0  # 0.5 s rounds up to a whole second
    ok = take(first.state, LIMITS, Decimal(3), START + timedelta(seconds=3))
    assert ok.ok and ok.state.level == 0
    capped = take(BucketState(Decimal(0), START), LIMITS, Decimal(1), START + timedelta(hours=5))
    assert capped.state.level == 9  # refill stops at capacity
    assert take(None, LIMITS, Decimal(11), START).retry_after is None  # never fits


async def test_quota_refusal_says_when_the_next_job_fits(
    make_engine: EngineFactory, clock: FakeClock
) -> None:
    # flux-dev 1 MP = $0.025 = 2.5 credits; 5 credits refilling 1 credit a minute.
    engine = await make_engine(default_limits=BucketLimits(Decimal(5), Decimal(60)))
    for _ in range(2):
        await submit(engine, request(model="flux-dev"), RecordingReply())
    with pytest.raises(BotError) as err:
        await submit(engine, request(model="flux-dev"), RecordingReply())
    assert err.value.code is ErrorCode.QUOTA_EXHAUSTED
    assert err.value.retry_after == 150.0  # 2.5 credits at one a minute
    await clock.advance(150)
    await submit(engine, request(model="flux-dev"), RecordingReply())


async def test_200_concurrent_admissions_never_overdraw_the_bucket(
    make_engine: EngineFactory, store: MemoryStore, fal: FakeFal
) -> None:
    fal.auto_finish = False
    engine = await make_engine(default_limits=BucketLimits(Decimal(10), Decimal(0)))
    results = await asyncio.gather(
        *(submit(engine, request(model="nano-banana"), RecordingReply()) for _ in range(200)),
        return_exceptions=True,
    )
    admitted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BotError)]
    assert len(admitted) == 2  # 3.9 credits each: two fit in ten
    assert len(refused) == 198
    assert all(e.code is ErrorCode.QUOTA_EXHAUSTED for e in refused)
    state = await store.bucket(BucketKey("w1", "alice"), LIMITS, START)
    assert state.level == Decimal("2.2")


async def test_jobs_in_flight_per_user_are_capped(make_engine: EngineFactory, fal: FakeFal) -> None:
    fal.auto_finish = False
    engine = await make_engine(max_in_flight_per_user=2)
    for _ in range(2):
        await submit(engine, request(), RecordingReply())
    with pytest.raises(BotError) as err:
        await submit(engine, request(), RecordingReply())
    assert err.value.code is ErrorCode.QUOTA_EXHAUSTED
    await submit(engine, request(Actor("console", "w1", "bob")), RecordingReply())


async def test_workspace_budget_counts_jobs_in_flight(
    engine: Engine, admin: AdminService, fal: FakeFal
) -> None:
    fal.auto_finish = False
    await admin.handle(SetBudget("0.10", "none"), actor=ADMIN)
    await submit(engine, request(model="nano-banana", num_images=2), RecordingReply())  # $0.078
    with pytest.raises(BotError) as err:
        await submit(
            engine, request(Actor("console", "w1", "bob"), model="nano-banana"), RecordingReply()
        )
    assert err.value.code is ErrorCode.BUDGET_EXHAUSTED
    assert err.value.retry_after == 12 * 3600  # the fake clock starts at noon
    other = Actor("console", "w2", "carol")
    await submit(engine, request(other, model="nano-banana"), RecordingReply())


def _edit(data: bytes) -> Ask:
    return Ask(
        ALICE,
        "nano-banana-edit",
        {"prompt": "make it red"},
        (validate_image(data, max_bytes=10**7),),
    )


BAD_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("no-such-model", {"prompt": "x"}),
    ("flux-dev", {"prompt": "x", "guidance": 3}),
    ("flux-dev", {"prompt": ""}),
    ("flux-dev", {"prompt": "   \n\t "}),
    ("flux-dev", {"prompt": "\x00\x01\x1b\u200b"}),
    ("flux-dev", {"prompt": "x" * 2001}),
    ("flux-dev", {"prompt": "x", "num_images": 0}),
    ("flux-dev", {"prompt": "x", "count": 99}),
    ("flux-dev", {"prompt": "x", "aspect_ratio": "7:1"}),
    ("flux-dev", {"prompt": "x", "seed": -1}),
    ("flux-dev", {"prompt": "x", "seed": float("nan")}),
    ("wan-2.5", {"prompt": "x", "duration": 60}),
    ("nano-banana-edit", {"prompt": "no image given"}),
    ("esrgan", {"scale": 2}),
]


@pytest.mark.parametrize(("model", "params"), BAD_REQUESTS)
async def test_bad_input_is_refused_and_changes_nothing(
    engine: Engine, store: MemoryStore, fal: FakeFal, model: str, params: dict[str, Any]
) -> None:
    with pytest.raises(BotError) as err:
        await submit(engine, Ask(ALICE, model, params), RecordingReply())
    assert err.value.code is ErrorCode.INVALID_INPUT
    assert err.value.message
    assert store.jobs == {} and store.buckets == {}
    assert engine.waiting == 0 and fal.submits == []


def test_bad_images_are_refused() -> None:
    import io
    import zlib

    good = png_bytes(32, 32)
    jpeg = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (16, 16)).save(jpeg, "JPEG")
    cases = {
        "not an image": b"%PDF-1.4 hello",
        "truncated": good[: len(good) // 2],
        "truncated jpeg": jpeg.getvalue()[:-40],
        "empty": b"",
        "too big": good + b"\0" * 2_000_000,
    }
    # A decompression bomb: a tiny PNG that claims 60000×60000 pixels.
    ihdr = (60000).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    chunk = b"IHDR" + ihdr
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + len(ihdr).to_bytes(4, "big")
        + chunk
        + zlib.crc32(chunk).to_bytes(4, "big")
    )
    cases["bomb"] = bomb
    for name, data in cases.items():
        with pytest.raises(BotError) as err:
            validate_image(data, max_bytes=1_000_000)
        assert err.value.code is ErrorCode.INVALID_INPUT, name
    assert validate_image(good, max_bytes=1_000_000).content_type == "image/png"


async def test_banned_users_and_denied_models_are_refused(
    engine: Engine, admin: AdminService, store: MemoryStore
) -> None:
    await admin.handle(Ban("alice", banned=True), actor=ADMIN)
    with pytest.raises(BotError) as err:
        await submit(engine, request(), RecordingReply())
    assert err.value.code is ErrorCode.NOT_ALLOWED
    await admin.handle(Ban("alice", banned=False), actor=ADMIN)
    await admin.handle(AllowModel("flux-schnell", allowed=False), actor=ADMIN)
    with pytest.raises(BotError) as err:
        await submit(engine, request(), RecordingReply())
    assert err.value.code is ErrorCode.NOT_ALLOWED
    assert "flux-schnell" not in [s.name for s in await engine.models("w1")]
    assert store.jobs == {}


@pytest.mark.parametrize(
    ("capacity", "refill"),
    [
        ("-1", "10"),
        ("NaN", "10"),
        ("inf", "10"),
        ("1e400", "10"),
        ("10", "-0.5"),
        ("ten", "10"),
        ("10", "1e9"),
    ],
)
async def test_bad_admin_quota_values_are_refused(
    admin: AdminService, store: MemoryStore, capacity: str, refill: str
) -> None:
    with pytest.raises(BotError) as err:
        await admin.handle(SetQuota("alice", capacity, refill), actor=ADMIN)
    assert err.value.code is ErrorCode.INVALID_INPUT
    assert store.quota_table == {}


async def test_admin_commands_need_an_admin(admin: AdminService, store: MemoryStore) -> None:
    calls = [
        admin.handle(SetQuota("alice", "1000", "1000"), actor=ALICE),
        admin.handle(SetBudget("1", "1"), actor=ALICE),
        admin.handle(AllowModel("flux-dev", allowed=False), actor=ALICE),
        admin.handle(Ban("bob", banned=True), actor=ALICE),
        admin.usage(ALICE),
        admin.handle(Refund("abcd1234"), actor=ALICE),
    ]
    for call in calls:
        with pytest.raises(BotError) as err:
            await call
        assert err.value.code is ErrorCode.NOT_ALLOWED
    assert store.quota_table == {} and store.bans == set() and store.denied == set()


async def test_a_quota_set_applies_to_the_next_job(engine: Engine, admin: AdminService) -> None:
    await admin.handle(SetQuota("alice", "1", "0"), actor=ADMIN)
    with pytest.raises(BotError) as err:
        await submit(engine, request(model="nano-banana"), RecordingReply())
    assert err.value.code is ErrorCode.QUOTA_EXHAUSTED
    await admin.handle(SetQuota("moderators", "50", "10", QuotaScope.ROLE), actor=ADMIN)
    mod = Actor("console", "w1", "dave", roles=("moderators",))
    await submit(engine, request(mod, model="nano-banana"), RecordingReply())
    view = await engine.quota(mod)
    assert view.capacity == 50 and view.level == Decimal("46.1")


async def test_a_ban_or_a_denied_model_is_said_before_busy(
    make_engine: EngineFactory, fal: FakeFal, store: MemoryStore
) -> None:
    fal.auto_finish = False
    engine = await make_engine(max_concurrency=1, max_waiting=1)
    for i in range(2):  # one goes to fal, one waits: the line is full
        await submit(engine, request(Actor("console", "w1", f"u{i}")), RecordingReply())
        await fal.wait_for_submits(1)
    with pytest.raises(BotError) as busy:
        await submit(engine, request(), RecordingReply())
    assert busy.value.code is ErrorCode.BUSY

    await store.set_banned("w1", "alice", True)
    with pytest.raises(BotError) as banned:
        await submit(engine, request(), RecordingReply())
    assert banned.value.code is ErrorCode.NOT_ALLOWED
    assert banned.value.message == "You are not allowed to use falbot here."
    await store.set_model_denied("w1", "flux-schnell", True)
    with pytest.raises(BotError) as denied:
        await submit(engine, request(), RecordingReply())
    assert denied.value.message == "flux-schnell is not allowed in this workspace."
    assert engine.waiting == 1


async def test_a_ban_is_said_before_an_open_circuit(
    make_engine: EngineFactory, fal: FakeFal, store: MemoryStore
) -> None:
    engine = await make_engine(progress_interval=0, circuit_threshold=1)
    fal.submit_error = BotError(ErrorCode.PROVIDER_UNAVAILABLE, "fal answered 503")
    reply = RecordingReply()
    await submit(engine, request(), reply)
    await reply.wait()
    assert engine.circuit_state == "open"

    await store.set_banned("w1", "alice", True)
    with pytest.raises(BotError) as banned:
        await submit(engine, request(), RecordingReply())
    assert banned.value.code is ErrorCode.NOT_ALLOWED
    with pytest.raises(BotError) as down:
        await submit(engine, request(Actor("console", "w1", "bob")), RecordingReply())
    assert down.value.code is ErrorCode.PROVIDER_UNAVAILABLE
