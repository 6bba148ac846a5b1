"""Core under test: the real engine on hand-written fakes of its ports."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from core.admin import AdminService
from core.engine import Engine, EngineConfig
from core.jobs import Actor
from core.model_table import build_catalog
from core.quota import BucketLimits
from tests.fakes.asking import Ask
from tests.fakes.clock import FakeClock
from tests.fakes.fal import FakeFal
from tests.fakes.memory_store import MemoryStore
from tests.fakes.reply import RecordingReply, RecordingReplyFactory

ALICE = Actor("console", "w1", "alice")
ADMIN = Actor("console", "w1", "root", is_admin=True)


def request(actor: Actor = ALICE, model: str = "flux-schnell", **params: Any) -> Ask:
    params.setdefault("prompt", "a lighthouse at dawn")
    return Ask(actor, model, params)


def config(**overrides: Any) -> EngineConfig:
    values: dict[str, Any] = {
        "default_limits": BucketLimits(Decimal(100), Decimal(0)),
        "max_concurrency": 2,
        "max_in_flight_per_user": 100,
        "progress_interval": 1.5,
    }
    values.update(overrides)
    return EngineConfig(**values)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def fal() -> FakeFal:
    return FakeFal()


@pytest.fixture
async def ticking(clock: FakeClock) -> AsyncIterator[None]:
    """Time moves whenever something sleeps on the clock: throttled replies never stall."""

    async def tick() -> None:
        while True:
            await clock.wait_for_sleepers(1)
            await clock.advance(0.5)

    task = asyncio.create_task(tick())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


EngineFactory = Callable[..., Awaitable[Engine]]


@pytest.fixture
async def make_engine(
    store: MemoryStore, fal: FakeFal, clock: FakeClock
) -> AsyncIterator[EngineFactory]:
    engines: list[Engine] = []

    async def build(**overrides: Any) -> Engine:
        engine = Engine(
            store=store, fal=fal, clock=clock, catalog=build_catalog(), config=config(**overrides)
        )
        engine.add_reply_factory(RecordingReplyFactory())
        await engine.start()
        engines.append(engine)
        return engine

    yield build
    for engine in engines:
        await engine.stop()


@pytest.fixture
async def engine(make_engine: EngineFactory) -> Engine:
    return await make_engine()


@pytest.fixture
def admin(engine: Engine, clock: FakeClock) -> AdminService:
    return AdminService(engine=engine, clock=clock)


__all__ = ["ADMIN", "ALICE", "RecordingReply", "request"]
