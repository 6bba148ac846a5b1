"""Private mode in core, on hand-written fakes: decided once (asked, else a result's own, else
the person's preference), kept with the job, sent to fal, refused where admins forbid it."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from core import privacy
from core.admin import AdminService
from core.admin_commands import SetPrivateMode
from core.commands import FollowUp, Generate
from core.confirmations import QuoteFirst
from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.jobs import JobKind
from tests.fakes.fal import FakeFal
from tests.fakes.memory_store import MemoryStore
from tests.unit.core.conftest import ADMIN, ALICE, EngineFactory, RecordingReply

IMAGE = Generate(JobKind.IMAGE, "flux-schnell", {"prompt": "a fox"})


def _asking(private: bool | None) -> Generate:
    return Generate(IMAGE.kind, IMAGE.model, IMAGE.options, private=private)


async def _run(engine: Engine, command: Generate | FollowUp) -> RecordingReply:
    reply = RecordingReply()
    await engine.submit(command, reply, actor=ALICE)
    await asyncio.wait_for(reply.ended.wait(), 5)
    return reply


async def test_a_private_job_is_kept_private_and_fal_is_asked_to_keep_nothing(
    engine: Engine, store: MemoryStore, fal: FakeFal
) -> None:
    reply = await _run(engine, _asking(True))

    assert reply.delivery is not None and reply.delivery.job.private
    (job,) = store.jobs.values()
    assert job.private and job.reply_ref["private"] is True
    assert fal.private == [True]


async def test_ordinary_jobs_are_not_private(engine: Engine, fal: FakeFal) -> None:
    for asked in (None, False):
        reply = await _run(engine, _asking(asked))
        assert reply.delivery is not None and not reply.delivery.job.private
    assert fal.private == [False, False]


async def test_a_button_on_a_private_result_is_private_unless_asked_otherwise(
    engine: Engine, fal: FakeFal
) -> None:
    first = await _run(engine, _asking(True))
    assert first.delivery is not None
    parent = first.delivery.job.id

    rerun = await _run(engine, FollowUp(parent, "rerun"))
    public = await _run(engine, FollowUp(parent, "upscale", private=False))

    assert rerun.delivery is not None and rerun.delivery.job.private
    assert public.delivery is not None and not public.delivery.job.private
    assert fal.private == [True, True, False]


async def test_admins_forbid_private_mode_and_private_jobs_are_refused(
    engine: Engine, admin: AdminService, store: MemoryStore, fal: FakeFal
) -> None:
    said = await admin.handle(SetPrivateMode(allowed=False), actor=ADMIN)
    assert said == "Private mode is forbidden here: every result is shown in its channel."

    with pytest.raises(BotError) as raised:
        await engine.submit(_asking(True), RecordingReply(), actor=ALICE)

    assert raised.value.code is ErrorCode.NOT_ALLOWED
    assert raised.value.message == (
        "Private mode is turned off in this workspace by its admins, so I did not start it."
    )
    assert "/admin private allow" in raised.value.hint
    assert store.jobs == {} and fal.submit_calls == 0
    await _run(engine, _asking(None))  # an ordinary job still runs
    await admin.handle(SetPrivateMode(allowed=True), actor=ADMIN)
    await _run(engine, _asking(True))
    assert fal.private == [False, True]


async def test_only_admins_set_the_rule(admin: AdminService) -> None:
    with pytest.raises(BotError, match="Only falbot admins can do that"):
        await admin.handle(SetPrivateMode(allowed=False), actor=ALICE)


async def test_the_persons_settings_apply_when_a_command_does_not_say(
    engine: Engine, store: MemoryStore, fal: FakeFal
) -> None:
    """/settings' private-mode toggle (theirs, else the workspace's default) is read by
    `preferred_private`; a command's own private:false still wins."""
    assert await privacy.preferred_private(store, ALICE) is None  # nothing set yet
    await engine.preferences.change(ALICE, {"private": "on"})
    assert await privacy.preferred_private(store, ALICE) is True

    await _run(engine, _asking(None))
    await _run(engine, _asking(False))
    await engine.preferences.change(ADMIN, {"private": "on"}, scope="workspace")
    await engine.preferences.change(ALICE, {"private": None})
    await _run(engine, _asking(None))  # the workspace's default now
    assert fal.private == [True, False, True]


async def test_a_private_quote_stays_private_when_confirmed(
    make_engine: EngineFactory, fal: FakeFal
) -> None:
    engine = await make_engine(confirm_above_usd=Decimal("0.001"))
    with pytest.raises(QuoteFirst) as raised:
        await engine.submit(_asking(True), RecordingReply(), actor=ALICE)
    assert raised.value.quote.private
    reply = RecordingReply()
    await engine.confirm(raised.value.quote.id, reply, actor=ALICE)
    await asyncio.wait_for(reply.ended.wait(), 5)
    assert fal.private == [True]
