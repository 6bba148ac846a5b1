"""The dedupe keys (Slack event ids, fal webhook request ids) are forgotten once no platform can
send the same thing again: the engine prunes them on its clock, at start and then on schedule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from core.engine import Engine
from core.model_table import build_catalog
from tests.fakes.clock import START, FakeClock
from tests.fakes.fal import FakeFal
from tests.fakes.memory_store import MemoryStore
from tests.unit.core.conftest import config

HOUR = 3600.0


@pytest.fixture
async def engine(store: MemoryStore, fal: FakeFal, clock: FakeClock) -> AsyncIterator[Engine]:
    built = Engine(
        store=store,
        fal=fal,
        clock=clock,
        catalog=build_catalog(),
        config=config(dedupe_keep=24 * HOUR, dedupe_prune_every=HOUR),
    )
    await built.start()
    try:
        yield built
    finally:
        await built.stop()


async def test_keys_past_the_window_are_pruned_on_schedule_and_newer_ones_kept(
    engine: Engine, store: MemoryStore, clock: FakeClock
) -> None:
    await store.claim("slack:Ev-old", START)
    engine.keep_dedupe_pruned()
    await asyncio.wait_for(clock.wait_for_sleepers(1), 5)  # the first round ran; it waits
    assert "slack:Ev-old" in store.seen  # fresh: kept

    await clock.advance(23 * HOUR)  # a run every hour; the old key is 23 h old
    assert "slack:Ev-old" in store.seen
    await store.claim("fal:webhook:req-new", clock.now())

    await clock.advance(2 * HOUR)  # the runs at 24 h (not older than the window yet) and 25 h
    assert "slack:Ev-old" not in store.seen
    assert "fal:webhook:req-new" in store.seen  # 2 h old: Slack or fal may still retry it
    assert await store.claim("slack:Ev-old", clock.now()) is True  # forgotten
    assert await store.claim("fal:webhook:req-new", clock.now()) is False  # still a replay


async def test_a_failed_round_is_logged_and_the_next_one_prunes(
    engine: Engine, store: MemoryStore, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0
    real = store.prune_dedupe

    async def flaky(older_than: object) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("disk I/O error")
        return await real(older_than)  # type: ignore[arg-type]

    store.prune_dedupe = flaky  # type: ignore[method-assign]
    await store.claim("slack:Ev-old", START - timedelta(days=2))
    engine.keep_dedupe_pruned()
    await asyncio.wait_for(clock.wait_for_sleepers(1), 5)
    assert "slack:Ev-old" in store.seen
    assert "pruning the dedupe keys failed" in caplog.text

    await clock.advance(HOUR)
    assert calls == 2 and "slack:Ev-old" not in store.seen
