"""Outputs fal flags as NSFW, on fakes: withheld (not even fetched), spoilered or shown outside
NSFW channels as the workspace says; always shown in a channel marked NSFW."""

from __future__ import annotations

import pytest

from core.admin import AdminService
from core.admin_commands import SetNsfw
from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.jobs import Channel
from core.nsfw import NsfwMode
from tests.fakes.asking import Ask, submit
from tests.fakes.clock import FakeClock
from tests.fakes.fal import FakeFal
from tests.fakes.memory_store import MemoryStore
from tests.fakes.reply import RecordingReply
from tests.unit.core.conftest import ADMIN, ALICE, EngineFactory, request

FLAGS = [True, False, True]


class CountingFal(FakeFal):
    def __init__(self) -> None:
        super().__init__()
        self.downloaded: list[str] = []

    async def download(self, url: str, *, max_bytes: int) -> bytes:
        self.downloaded.append(url)
        return await super().download(url, max_bytes=max_bytes)


@pytest.fixture
def fal() -> CountingFal:
    counting = CountingFal()
    counting.nsfw_flags = FLAGS
    return counting


async def deliver(engine: Engine, job_request: Ask) -> RecordingReply:
    reply = RecordingReply()
    await submit(engine, job_request, reply)
    await reply.wait()
    assert reply.delivery is not None, reply.error
    return reply


async def test_flagged_outputs_are_withheld_by_default_and_never_fetched(
    make_engine: EngineFactory, fal: CountingFal
) -> None:
    engine = await make_engine(progress_interval=0)
    reply = await deliver(engine, request(num_images=3))
    assert reply.delivery is not None
    assert reply.delivery.withheld == 2
    assert [f.output.nsfw for f in reply.delivery.files] == [False]
    assert not any(f.spoiler for f in reply.delivery.files)
    assert fal.downloaded == [reply.delivery.files[0].output.url]


async def test_a_workspace_can_choose_spoilers_or_to_allow_them(
    make_engine: EngineFactory, store: MemoryStore, fal: CountingFal, clock: FakeClock
) -> None:
    engine = await make_engine(progress_interval=0)
    admin = AdminService(engine=engine, clock=clock)
    said = await admin.handle(SetNsfw("Spoiler"), actor=ADMIN)
    assert "behind a spoiler" in said
    spoilered = await deliver(engine, request(num_images=3))
    assert spoilered.delivery is not None and spoilered.delivery.withheld == 0
    assert [f.spoiler for f in spoilered.delivery.files] == FLAGS
    assert all(f.data is not None for f in spoilered.delivery.files)

    await admin.handle(SetNsfw("allow"), actor=ADMIN)
    shown = await deliver(engine, request(num_images=3))
    assert shown.delivery is not None
    assert [f.spoiler for f in shown.delivery.files] == [False] * 3
    assert (await store.policy("w1")).nsfw is NsfwMode.ALLOW
    assert (await store.policy("w2")).nsfw is None  # another workspace keeps the default


async def test_everything_is_shown_in_a_channel_marked_nsfw(make_engine: EngineFactory) -> None:
    engine = await make_engine(progress_interval=0)
    base = request(num_images=3)
    reply = await deliver(
        engine, Ask(base.actor, base.model, base.params, channel=Channel(nsfw=True))
    )
    assert reply.delivery is not None
    assert reply.delivery.withheld == 0
    assert not any(f.spoiler for f in reply.delivery.files)
    assert reply.delivery.job.nsfw_channel  # kept for a restart


async def test_the_nsfw_mode_is_an_admin_setting_with_known_values(
    make_engine: EngineFactory, clock: FakeClock
) -> None:
    engine = await make_engine(progress_interval=0)
    admin = AdminService(engine=engine, clock=clock)
    with pytest.raises(BotError) as refused:
        await admin.handle(SetNsfw("allow"), actor=ALICE)
    assert refused.value.code is ErrorCode.NOT_ALLOWED
    with pytest.raises(BotError) as unknown:
        await admin.handle(SetNsfw("sometimes"), actor=ADMIN)
    assert unknown.value.code is ErrorCode.INVALID_INPUT
