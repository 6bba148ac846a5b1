"""Price before spending, in core on hand-written fakes: a quote above the threshold instead of
a job; Confirm admits once (full admission), Cancel and lapse take nothing; quotes survive a
new engine on the same store; the threshold per workspace."""

from __future__ import annotations

import asyncio
import base64
from decimal import Decimal

import pytest

from core.commands import FollowUp, Generate
from core.confirmations import QUOTE_LIFETIME, PriceQuote, QuoteFirst, parse_threshold
from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.jobs import Actor, InputImage, JobKind
from core.markup import clock_ref
from core.quota import BucketLimits
from core.quote_codec import decode_command, encode_command
from tests.fakes.clock import FakeClock
from tests.fakes.fal import FakeFal
from tests.fakes.memory_store import MemoryStore
from tests.unit.core.conftest import ALICE, EngineFactory, RecordingReply

BOB = Actor("console", "w1", "bob")
VEO = Generate(JobKind.VIDEO, "veo3", {"prompt": "waves", "duration": 8})  # $1.60


async def _quote(engine: Engine, actor: Actor = ALICE, command: Generate = VEO) -> PriceQuote:
    with pytest.raises(QuoteFirst) as raised:
        await engine.submit(command, RecordingReply(), actor=actor, place={"where": "here"})
    return raised.value.quote


async def _level(engine: Engine, actor: Actor = ALICE) -> Decimal:
    return (await engine.quota(actor)).level


async def test_above_the_threshold_a_quote_is_kept_and_nothing_taken(
    make_engine: EngineFactory, store: MemoryStore, fal: FakeFal
) -> None:
    engine = await make_engine(confirm_above_usd=Decimal("0.20"), default_limits=_limits(1000))

    quote = await _quote(engine)

    assert (quote.model, quote.estimate_usd, quote.credits) == ("veo3", Decimal("1.6"), 160)
    assert quote.balance == 1000 and quote.place == {"where": "here"}
    assert quote.text() == (
        f"**veo3** will cost about **$1.60** (160 credits). You have 1000 credits.\n"
        f"Nothing is taken until you confirm. This quote lapses at {clock_ref(quote.expires_at)}"
        " (5 minutes)."
    )
    assert store.jobs == {} and fal.submit_calls == 0
    assert await _level(engine) == 1000
    assert f"quote:{quote.id}" in store.bot_state


async def test_at_or_below_the_threshold_the_job_starts_at_once(make_engine: EngineFactory) -> None:
    engine = await make_engine(confirm_above_usd=Decimal("1.60"), default_limits=_limits(1000))
    job = await engine.submit(VEO, RecordingReply(), actor=ALICE)
    assert job.estimate_usd == Decimal("1.6")


async def test_confirm_admits_once_however_often_and_however_concurrently(
    make_engine: EngineFactory, store: MemoryStore
) -> None:
    engine = await make_engine(confirm_above_usd=Decimal("0.01"), default_limits=_limits(1000))
    quote = await _quote(engine)

    results = await asyncio.gather(
        *(engine.confirm(quote.id, RecordingReply(), actor=ALICE) for _ in range(5)),
        return_exceptions=True,
    )

    jobs = [r for r in results if not isinstance(r, BaseException)]
    assert len(jobs) == 1 and jobs[0].credits == 160
    refusals = [r for r in results if isinstance(r, BotError)]
    assert len(refusals) == 4
    assert len(store.jobs) == 1
    assert await _level(engine) == 1000 - 160
    with pytest.raises(BotError, match="You already confirmed this quote"):
        await engine.confirm(quote.id, RecordingReply(), actor=ALICE)


async def test_cancel_takes_nothing_and_ends_the_quote(
    make_engine: EngineFactory, store: MemoryStore
) -> None:
    engine = await make_engine(confirm_above_usd=Decimal("0.01"), default_limits=_limits(1000))
    quote = await _quote(engine)

    cancelled = await engine.quotes.take(quote.id, ALICE, confirmed=False)

    assert cancelled.id == quote.id
    with pytest.raises(BotError, match="You cancelled this quote; nothing was taken"):
        await engine.confirm(quote.id, RecordingReply(), actor=ALICE)
    assert store.jobs == {}
    assert "command" not in store.bot_state[f"quote:{quote.id}"]  # its images are let go


async def test_a_quote_lapses_on_cores_clock(
    make_engine: EngineFactory, clock: FakeClock, store: MemoryStore
) -> None:
    engine = await make_engine(confirm_above_usd=Decimal("0.01"), default_limits=_limits(1000))
    quote = await _quote(engine)

    await clock.advance(QUOTE_LIFETIME.total_seconds() - 1)
    assert (await engine.quotes.pending(quote.id, ALICE)).id == quote.id
    await clock.advance(1)

    with pytest.raises(BotError) as raised:
        await engine.confirm(quote.id, RecordingReply(), actor=ALICE)
    assert (
        raised.value.message == "This quote lapsed: quotes last 5 minutes, and nothing was taken."
    )
    assert raised.value.hint == "Ask again for a new quote."
    assert store.jobs == {}


async def test_only_the_requester_answers_a_quote(make_engine: EngineFactory) -> None:
    engine = await make_engine(confirm_above_usd=Decimal("0.01"), default_limits=_limits(1000))
    quote = await _quote(engine)
    admin = Actor("console", "w1", "root", is_admin=True)
    elsewhere = Actor("console", "w2", "alice")

    for who in (BOB, admin, elsewhere):
        with pytest.raises(BotError) as raised:
            await engine.confirm(quote.id, RecordingReply(), actor=who)
        assert raised.value.code is ErrorCode.NOT_ALLOWED
        with pytest.raises(BotError):
            await engine.quotes.take(quote.id, who, confirmed=False)
    job = await engine.confirm(quote.id, RecordingReply(), actor=ALICE)
    assert job.user_id == ALICE.user_id


async def test_confirm_runs_the_full_admission(
    make_engine: EngineFactory, store: MemoryStore
) -> None:
    engine = await make_engine(confirm_above_usd=Decimal("0.01"), default_limits=_limits(1000))
    quote = await _quote(engine)
    await store.set_model_denied("w1", "veo3", True)

    with pytest.raises(BotError, match="veo3 is not allowed in this workspace"):
        await engine.confirm(quote.id, RecordingReply(), actor=ALICE)
    assert store.jobs == {}
    assert await _level(engine) == 1000


async def test_a_quote_is_refused_up_front_when_admission_would_refuse_anyway(
    make_engine: EngineFactory, store: MemoryStore
) -> None:
    engine = await make_engine(confirm_above_usd=Decimal("0.01"), default_limits=_limits(1000))
    await store.set_banned("w1", ALICE.user_id, True)
    with pytest.raises(BotError, match="You are not allowed to use falbot here"):
        await engine.submit(VEO, RecordingReply(), actor=ALICE)
    assert not any(k.startswith("quote:") for k in store.bot_state)


async def test_a_quote_survives_a_new_engine_on_the_same_store(
    make_engine: EngineFactory, store: MemoryStore
) -> None:
    first = await make_engine(confirm_above_usd=Decimal("0.01"), default_limits=_limits(1000))
    quote = await _quote(first)
    await first.stop()
    second = await make_engine(confirm_above_usd=Decimal("0.01"), default_limits=_limits(1000))

    job = await second.confirm(quote.id, RecordingReply(), actor=ALICE)

    assert job.model == "veo3" and job.arguments["prompt"] == "waves"


async def test_the_workspace_threshold_overrides_the_default(make_engine: EngineFactory) -> None:
    engine = await make_engine(confirm_above_usd=Decimal("0.20"), default_limits=_limits(1000))
    said = await engine.quotes.set_threshold("w1", parse_threshold("$5"))
    assert said.startswith("Jobs estimated above $5.00 show their price first")
    await engine.submit(VEO, RecordingReply(), actor=ALICE)  # $1.60 < $5
    await engine.quotes.set_threshold("w1", parse_threshold("off"))
    assert await engine.quotes.threshold("w1") is None
    assert await engine.quotes.threshold("w2") == Decimal("0.20")
    for bad in ("cheap", "-1", "nan"):
        with pytest.raises(BotError, match="is not an amount in dollars"):
            parse_threshold(bad)


async def test_commands_round_trip_through_the_store_whole() -> None:
    image = InputImage("image/png", data=b"\x89PNG....", width=4, height=3)
    link = InputImage("image/jpeg", url="https://v3.fal.media/files/x.jpg")
    generate = Generate(
        JobKind.EDIT,
        "nano-banana-edit",
        {"prompt": "p", "num_images": 2},
        (image, link),
        flagged_input=True,
        private=True,
    )
    follow = FollowUp("a" * 32, "upscale", image_index=2, private=False)
    for command in (generate, follow):
        assert decode_command(encode_command(command)) == command
    encoded = encode_command(generate)["fields"]["images"][0]["data"]
    assert base64.b64decode(encoded) == image.data


def _limits(capacity: int) -> BucketLimits:
    return BucketLimits(Decimal(capacity), Decimal(0))


async def test_no_quote_for_a_job_the_credits_cannot_cover_now(
    make_engine: EngineFactory, store: MemoryStore
) -> None:
    engine = await make_engine(confirm_above_usd=Decimal("1.00"), default_limits=_limits(163))
    small = Generate(JobKind.IMAGE, "nano-banana", {"prompt": "a"})
    await engine.submit(small, RecordingReply(), actor=ALICE)  # 3.9 credits: 159.1 left
    with pytest.raises(BotError) as raised:
        await engine.submit(VEO, RecordingReply(), actor=ALICE)
    assert not isinstance(raised.value, QuoteFirst)
    assert raised.value.code is ErrorCode.QUOTA_EXHAUSTED
    assert not any(k.startswith("quote:") for k in store.bot_state)


async def test_a_lapsed_quote_lets_go_of_its_images_at_the_next_quote(
    make_engine: EngineFactory, clock: FakeClock, store: MemoryStore
) -> None:
    engine = await make_engine(confirm_above_usd=Decimal("0.01"), default_limits=_limits(1000))
    image = InputImage("image/png", data=b"\x89PNG" + b"x" * 1000, width=8, height=8)
    edit = Generate(JobKind.EDIT, "nano-banana-edit", {"prompt": "blue"}, (image,))
    first = await _quote(engine, command=edit)
    assert "images" in store.bot_state[f"quote:{first.id}"]

    await clock.advance(QUOTE_LIFETIME.total_seconds())
    second = await _quote(engine)

    assert "images" not in store.bot_state[f"quote:{first.id}"]
    with pytest.raises(BotError, match="This quote lapsed"):
        await engine.confirm(first.id, RecordingReply(), actor=ALICE)
    assert (await engine.quotes.pending(second.id, ALICE)).id == second.id
