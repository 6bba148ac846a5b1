"""The region painter in core (`core.painting`), on the engine with hand-written fakes: links
stored only hashed, bound to their owner, lapsing on core's clock, single-use through a claim;
the fill job admitted as a child of the result; refusals that leave the link usable; and the
mask's checks."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import timedelta

import pytest
from PIL import Image

from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.jobs import Actor, Channel, Job, JobKind
from core.masks import check_mask
from core.painting import LinkGone, Painter
from tests.fakes.asking import submit
from tests.fakes.clock import FakeClock
from tests.fakes.fal import FakeFal
from tests.fakes.memory_store import MemoryStore
from tests.fakes.reply import RecordingReply, RecordingReplyFactory
from tests.unit.core.conftest import ALICE, EngineFactory, request

BOB = Actor("console", "w1", "bob")
SIZE = (1024, 1024)  # FakeFal's images


def _png(size: tuple[int, int], box: tuple[int, int, int, int] | None = None) -> bytes:
    image = Image.new("L", size, 0)
    if box is not None:
        image.paste(255, box)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


MASK = _png(SIZE, (100, 100, 300, 300))


async def _setup(engine: Engine, fal: FakeFal, clock: FakeClock) -> tuple[Painter, Job]:
    reply = RecordingReply()
    job = await submit(engine, request(), reply)
    await reply.wait()
    painter = Painter(engine=engine, fal=fal, clock=clock, public_url="https://bot.example/")
    painter.add_reply_factory(RecordingReplyFactory())
    stored = await engine.store.get_job(job.id)
    assert stored is not None
    return painter, stored


async def _link(painter: Painter, job: Job, actor: Actor = ALICE) -> str:
    link = await painter.issue(
        actor=actor, channel=Channel(), job_id=job.id, image=None, place="#art", reply_ref={}
    )
    assert link.url.startswith("https://bot.example/paint/")
    return link.url.rsplit("/", 1)[1]


async def test_a_link_is_stored_only_as_its_hash(
    make_engine: EngineFactory, fal: FakeFal, clock: FakeClock, store: MemoryStore
) -> None:
    painter, job = await _setup(await make_engine(), fal, clock)

    token = await _link(painter, job)

    digest = hashlib.sha256(token.encode()).hexdigest()
    assert set(store.bot_state) == {f"paint:{digest}"}
    assert token not in json.dumps(store.bot_state)
    record = json.loads(store.bot_state[f"paint:{digest}"])
    assert (record["job"], record["actor"]["user_id"], record["place"]) == (job.id, "alice", "#art")
    assert len(token) == 43  # 32 random bytes


async def test_only_the_owner_gets_a_link(
    make_engine: EngineFactory, fal: FakeFal, clock: FakeClock
) -> None:
    painter, job = await _setup(await make_engine(), fal, clock)

    with pytest.raises(BotError) as refused:
        await _link(painter, job, actor=BOB)

    assert refused.value.code is ErrorCode.NOT_ALLOWED


async def test_without_a_public_url_the_button_says_what_to_set(
    make_engine: EngineFactory, fal: FakeFal, clock: FakeClock
) -> None:
    engine = await make_engine()
    _, job = await _setup(engine, fal, clock)
    painter = Painter(engine=engine, fal=fal, clock=clock, public_url=None)

    with pytest.raises(BotError) as refused:
        await _link(painter, job)

    assert "FALBOT_PUBLIC_URL" in refused.value.hint


async def test_the_job_is_a_fill_child_of_the_result_and_the_link_is_spent(
    make_engine: EngineFactory, fal: FakeFal, clock: FakeClock, store: MemoryStore, ticking: None
) -> None:
    painter, job = await _setup(await make_engine(progress_interval=0), fal, clock)
    token = await _link(painter, job)
    page = await painter.page(token)

    status = await painter.submit(token, prompt="a  stormy\tsky", mask=MASK)

    assert (page.width, page.height, page.price, page.place) == (1024, 1024, "$0.05", "#art")
    assert status.state in ("queued", "working", "posted")
    child = (await store.user_jobs("w1", "alice", limit=1))[0]
    assert (child.kind, child.parent_job_id) == (JobKind.FILL, job.id)
    assert child.arguments["prompt"] == "a stormy sky"
    assert child.arguments["mask_url"] == "https://fal.media/upload-1"
    uploaded = Image.open(io.BytesIO(fal.uploads[0]))
    assert uploaded.size == SIZE and uploaded.getpixel((200, 200)) == 255
    with pytest.raises(LinkGone) as again:
        await painter.submit(token, prompt="more", mask=MASK)
    assert again.value.reason == "used"


async def test_a_link_lapses_after_15_minutes_of_cores_clock(
    make_engine: EngineFactory, fal: FakeFal, clock: FakeClock
) -> None:
    painter, job = await _setup(await make_engine(), fal, clock)
    token = await _link(painter, job)
    await clock.advance(timedelta(minutes=14, seconds=59).total_seconds())
    await painter.page(token)

    await clock.advance(1)

    with pytest.raises(LinkGone) as lapsed:
        await painter.page(token)
    assert lapsed.value.reason == "expired"
    with pytest.raises(LinkGone):
        await painter.submit(token, prompt="x", mask=MASK)


async def test_a_refused_try_leaves_the_link_usable(
    make_engine: EngineFactory, fal: FakeFal, clock: FakeClock, store: MemoryStore, ticking: None
) -> None:
    painter, job = await _setup(await make_engine(progress_interval=0), fal, clock)
    token = await _link(painter, job)
    await store.set_model_denied("w1", "flux-fill", True)

    with pytest.raises(BotError) as denied:
        await painter.submit(token, prompt="x", mask=MASK)
    await store.set_model_denied("w1", "flux-fill", False)
    await painter.submit(token, prompt="x", mask=MASK)

    assert denied.value.message == "flux-fill is not allowed in this workspace."
    assert len(await store.user_jobs("w1", "alice", limit=5)) == 2


@pytest.mark.parametrize(
    ("mask", "said"),
    [
        (_png((1024, 1023), (0, 0, 9, 9)), "The mask is 1024×1023 pixels; the image is 1024×1024"),
        (_png(SIZE), "Nothing is painted"),
        (_png(SIZE, (0, 0, 1024, 1024)), "The whole image is painted"),
        (b"GIF89a" + b"\0" * 30, "must be a PNG"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\1\0\0\0\1\0\0", "65536×65536"),
        (MASK[:60], "damaged"),
    ],
)
def test_masks_are_checked_before_use(mask: bytes, said: str) -> None:
    with pytest.raises(BotError) as refused:
        check_mask(mask, width=1024, height=1024)
    assert said in refused.value.message
    assert refused.value.hint


def test_a_soft_edged_mask_is_sent_as_pure_black_and_white() -> None:
    image = Image.new("LA", SIZE, (0, 0))
    image.paste((255, 200), (10, 10, 60, 60))  # mostly opaque white: painted
    image.paste((255, 40), (100, 100, 160, 160))  # nearly see-through: not painted
    out = io.BytesIO()
    image.save(out, "PNG")

    mask = check_mask(out.getvalue(), width=SIZE[0], height=SIZE[1])

    sent = Image.open(io.BytesIO(mask.png))
    assert sent.mode == "L" and sum(sent.histogram()[1:255]) == 0
    assert (sent.getpixel((30, 30)), sent.getpixel((130, 130))) == (255, 0)
    assert mask.painted == 50 * 50


async def test_a_failed_upload_leaves_the_link_usable(
    make_engine: EngineFactory, fal: FakeFal, clock: FakeClock, store: MemoryStore, ticking: None
) -> None:
    painter, job = await _setup(await make_engine(progress_interval=0), fal, clock)
    token = await _link(painter, job)
    upload = fal.upload

    async def down(data: bytes, content_type: str) -> str:
        raise BotError(ErrorCode.PROVIDER_UNAVAILABLE, "fal's storage is down.")

    fal.upload = down  # type: ignore[method-assign]
    with pytest.raises(BotError) as failed:
        await painter.submit(token, prompt="x", mask=MASK)
    fal.upload = upload  # type: ignore[method-assign]
    await painter.submit(token, prompt="x", mask=MASK)

    assert failed.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert len(await store.user_jobs("w1", "alice", limit=5)) == 2
