"""Isolation, on both stores (SQLite and the in-memory fake): a user sees and cancels only their
own jobs; quotas, budgets, bans, model policy and usage of one workspace never touch another,
even where user ids are the same; every admin action checks the caller, every time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import pytest

from adapters.sqlite.store import SqliteStore
from core.admin import AdminService
from core.admin_commands import (
    AdminCommand,
    AllowModel,
    Ban,
    Refund,
    SetBudget,
    SetConfirmAbove,
    SetNsfw,
    SetPrivateMode,
    SetQuota,
    ShowQuota,
)
from core.commands import Cancel, Generate
from core.confirmations import QuoteFirst
from core.engine import Engine, EngineConfig
from core.errors import BotError, ErrorCode
from core.jobs import Actor, Job, JobKind, JobState
from core.model_table import build_catalog
from core.ports import Store
from core.quota import BucketLimits
from tests.fakes import asking
from tests.fakes.asking import Ask
from tests.fakes.clock import FakeClock
from tests.fakes.fal import FakeFal
from tests.fakes.memory_store import MemoryStore
from tests.fakes.reply import RecordingReply, RecordingReplyFactory

# The same user id in two workspaces is two different people.
ALICE_1 = Actor("console", "w1", "alice")
BOB_1 = Actor("console", "w1", "bob")
ADMIN_1 = Actor("console", "w1", "root", is_admin=True)
ALICE_2 = Actor("console", "w2", "alice")
ADMIN_2 = Actor("console", "w2", "root", is_admin=True)
DEFAULT = BucketLimits(Decimal(100), Decimal(0))


@pytest.fixture(params=["sqlite", "memory"])
async def store(request: Any, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    opened = await SqliteStore.open(tmp_path / "falbot.db")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def engine(store: Store) -> AsyncIterator[Engine]:
    built = Engine(
        store=store,
        fal=FakeFal(auto_finish=False),  # jobs stay at fal: they can be cancelled
        clock=FakeClock(),
        catalog=build_catalog(),
        config=EngineConfig(default_limits=DEFAULT, progress_interval=0),
    )
    built.add_reply_factory(RecordingReplyFactory())
    await built.start()
    try:
        yield built
    finally:
        await built.stop()


@pytest.fixture
def admin(engine: Engine) -> AdminService:
    return AdminService(engine=engine, clock=FakeClock())


async def submit(engine: Engine, actor: Actor, prompt: str = "a fox") -> Job:
    request = Ask(actor, "flux-schnell", {"prompt": prompt})
    return await asking.submit(engine, request, RecordingReply())


async def test_a_user_sees_and_cancels_only_their_own_jobs(engine: Engine) -> None:
    alice1 = await submit(engine, ALICE_1, "alice in w1")
    bob1 = await submit(engine, BOB_1, "bob in w1")
    alice2 = await submit(engine, ALICE_2, "alice in w2")

    assert [j.id for j in await engine.jobs(ALICE_1)] == [alice1.id]
    assert [j.id for j in await engine.jobs(ALICE_2)] == [alice2.id]
    for ref in (bob1.id, bob1.short_id):
        with pytest.raises(BotError) as seen:
            await engine.find_job(ALICE_1, ref)
        assert seen.value.code is ErrorCode.NOT_FOUND
    for ref in (alice2.id, alice2.short_id):  # the same user id, another workspace
        with pytest.raises(BotError):
            await engine.find_job(ALICE_1, ref)
    for actor, job in ((ALICE_1, bob1), (ALICE_1, alice2), (ALICE_2, alice1)):
        with pytest.raises(BotError) as cancelled:
            await engine.cancel(Cancel(job.id), actor=actor)
        assert cancelled.value.code is ErrorCode.NOT_FOUND
    for job in (alice1, bob1, alice2):
        stored = await engine.store.get_job(job.id)
        assert stored is not None and not stored.state.final

    # An admin reaches every job of their own workspace, and none of another.
    assert (await engine.find_job(ADMIN_1, bob1.short_id)).id == bob1.id
    with pytest.raises(BotError):
        await engine.find_job(ADMIN_1, alice2.id)
    with pytest.raises(BotError):
        await engine.cancel(Cancel(alice1.id), actor=ADMIN_2)
    cancelled = await engine.cancel(Cancel(bob1.id), actor=ADMIN_1)
    assert cancelled.id == bob1.id


async def test_quotas_and_buckets_belong_to_one_workspace(
    engine: Engine, admin: AdminService
) -> None:
    await admin.handle(SetQuota("alice", "5", "0"), actor=ADMIN_1)
    assert (await engine.limits_for(ALICE_1)).capacity == Decimal(5)
    assert await engine.limits_for(ALICE_2) == DEFAULT
    await submit(engine, ALICE_2, "spend in w2")
    assert (await engine.quota(ALICE_1)).level == Decimal(5)  # w2's spending is not w1's
    assert (await engine.quota(ALICE_2)).level < Decimal(100)
    shown = await admin.handle(ShowQuota("alice"), actor=ADMIN_2)
    assert "of 100 credits" in shown and "global default" in shown


async def test_budgets_bans_and_models_belong_to_one_workspace(
    engine: Engine, admin: AdminService
) -> None:
    await admin.handle(SetBudget("0", "0"), actor=ADMIN_1)
    await admin.handle(Ban("bob", banned=True), actor=ADMIN_1)
    await admin.handle(AllowModel("flux-schnell", allowed=False), actor=ADMIN_1)
    for actor, code in ((ALICE_1, ErrorCode.NOT_ALLOWED), (BOB_1, ErrorCode.NOT_ALLOWED)):
        with pytest.raises(BotError) as refused:
            await submit(engine, actor)
        assert refused.value.code is code
    await admin.handle(AllowModel("flux-schnell", allowed=True), actor=ADMIN_1)
    with pytest.raises(BotError) as over:
        await submit(engine, ALICE_1)
    assert over.value.code is ErrorCode.BUDGET_EXHAUSTED

    bob_2 = Actor("console", "w2", "bob")
    assert (await submit(engine, bob_2)).workspace_id == "w2"  # not banned there
    assert (await submit(engine, ALICE_2)).workspace_id == "w2"  # no budget, model allowed
    assert [s.name for s in await engine.models("w2")].count("flux-schnell") == 1


async def test_usage_is_per_user_and_per_workspace(engine: Engine, admin: AdminService) -> None:
    fal = engine._fal  # the fake: let every job finish and be charged
    assert isinstance(fal, FakeFal)
    fal.auto_finish = True
    replies = []
    for actor in (ALICE_1, BOB_1, ALICE_2, ALICE_2):
        reply = RecordingReply()
        await asking.submit(engine, Ask(actor, "nano-banana", {"prompt": "x"}), reply)
        replies.append(reply)
    for reply in replies:
        await reply.wait()

    assert (await engine.usage(ALICE_1)).jobs == 1
    assert (await engine.usage(ALICE_2)).jobs == 2
    assert (await admin.usage(ADMIN_1)).jobs == 2  # alice and bob of w1, not w2's
    assert set((await admin.usage(ADMIN_1)).by("user_id")) == {"alice", "bob"}
    assert (await admin.usage(ADMIN_2)).jobs == 2
    with pytest.raises(BotError) as refused:
        await engine.usage(ALICE_1, everyone=True)
    assert refused.value.code is ErrorCode.NOT_ALLOWED

    # A refund reaches only a job of the admin's own workspace.
    job_2 = (await engine.jobs(ALICE_2))[0]
    assert job_2.state is JobState.DELIVERED
    with pytest.raises(BotError):
        await admin.handle(Refund(job_2.id), actor=ADMIN_1)
    await admin.handle(Refund(job_2.id), actor=ADMIN_2)


COMMANDS: list[AdminCommand] = [
    SetQuota("alice", "1", "1"),
    ShowQuota("alice"),
    SetBudget("1", "1"),
    AllowModel("flux-dev", allowed=True),
    AllowModel("flux-dev", allowed=False),
    SetNsfw("allow"),
    Ban("bob", banned=True),
    Ban("bob", banned=False),
    Refund("deadbeef"),
    SetConfirmAbove("0.50"),
    SetPrivateMode(allowed=False),
]


def test_every_admin_command_is_covered_here() -> None:
    assert {type(c) for c in COMMANDS} == set(get_args(AdminCommand))


@pytest.mark.parametrize("command", COMMANDS, ids=repr)
async def test_every_admin_command_refuses_a_non_admin_and_changes_nothing(
    admin: AdminService, store: Store, command: AdminCommand
) -> None:
    before = await workspace_state(store)
    with pytest.raises(BotError) as refused:
        await admin.handle(command, actor=ALICE_1)
    assert refused.value.code is ErrorCode.NOT_ALLOWED
    assert await workspace_state(store) == before
    with pytest.raises(BotError) as usage:  # the one admin call that is not a command
        await admin.usage(ALICE_1)
    assert usage.value.code is ErrorCode.NOT_ALLOWED


async def workspace_state(store: Store) -> tuple[object, ...]:
    policy, quotas = await store.policy("w1"), await store.quotas("w1", "alice", ())
    rules = [await store.state_value(f"workspace:w1:{k}") for k in ("confirm_above", "private")]
    return (policy, quotas, await store.is_banned("w1", "bob"), rules)


async def test_the_price_threshold_and_private_rule_belong_to_one_workspace(
    engine: Engine, admin: AdminService
) -> None:
    await admin.handle(SetConfirmAbove("0"), actor=ADMIN_1)
    await admin.handle(SetPrivateMode(allowed=False), actor=ADMIN_1)
    with pytest.raises(QuoteFirst):
        await submit(engine, ALICE_1)
    private = Generate(JobKind.IMAGE, "flux-schnell", {"prompt": "x"}, private=True)
    with pytest.raises(BotError, match="Private mode is turned off"):
        await engine.submit(private, RecordingReply(), actor=ALICE_1)
    assert (await submit(engine, ALICE_2)).workspace_id == "w2"  # neither applies there
    assert (await engine.submit(private, RecordingReply(), actor=ALICE_2)).private
