"""The engine on its real adapters: fal-client against the simulator, and SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.fal.gateway import FalClientGateway
from adapters.fal.simulator import FalSimulator
from adapters.sqlite.store import SqliteStore
from bot.clock import SystemClock
from core.engine import Engine, EngineConfig
from core.model_table import build_catalog
from core.ports import FalGateway
from core.quota import BucketLimits
from tests.fakes.reply import RecordingReplyFactory
from tests.integration.fal.fixtures import SIM_KEY


@pytest.fixture
async def gateway(fal_sim: FalSimulator) -> AsyncIterator[FalClientGateway]:
    fal = FalClientGateway(key=SIM_KEY)
    yield fal
    await fal.aclose()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "falbot.db"


EngineFactory = Callable[..., Awaitable[Engine]]


@pytest.fixture
async def make_engine(gateway: FalClientGateway, db_path: Path) -> AsyncIterator[EngineFactory]:
    """Engines on one database; each gets its own store connection, all closed at the end."""
    opened: list[tuple[Engine, SqliteStore]] = []

    async def build(
        *,
        factory: RecordingReplyFactory | None = None,
        fal: FalGateway | None = None,
        **overrides: Any,
    ) -> Engine:
        values: dict[str, Any] = {
            "default_limits": BucketLimits(Decimal(1000), Decimal(0)),
            "max_concurrency": 4,
            "max_in_flight_per_user": 100,
            "progress_interval": 0.1,
        }
        values.update(overrides)
        store = await SqliteStore.open(db_path)
        engine = Engine(
            store=store,
            fal=fal or gateway,
            clock=SystemClock(),
            catalog=build_catalog(),
            config=EngineConfig(**values),
        )
        engine.add_reply_factory(factory or RecordingReplyFactory())
        await engine.start()
        opened.append((engine, store))
        return engine

    yield build
    for engine, store in reversed(opened):
        await engine.stop()
        await store.close()
