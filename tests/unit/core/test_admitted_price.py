"""A job settles at the price it was admitted with: prices refreshed while it ran (or before a
restart picked it up) apply to jobs admitted after them, never to the ones in flight."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.catalog import Catalog
from core.engine import Engine
from core.model_table import build_catalog
from core.ports import UsageFilter
from core.quotes import Quote
from core.repricing import reprice
from tests.fakes.asking import submit
from tests.fakes.clock import START, FakeClock
from tests.fakes.fal import FakeFal
from tests.fakes.memory_store import MemoryStore
from tests.fakes.reply import RecordingReply, RecordingReplyFactory
from tests.unit.core.conftest import EngineFactory, config, request

pytestmark = pytest.mark.usefixtures("ticking")


def doubled() -> Catalog:
    """flux-dev at $0.05 a megapixel, as a refresh from fal's pricing API would set it."""
    quote = Quote("fal-ai/flux/dev", "0.05", "megapixels", "USD")
    catalog = reprice(build_catalog(), [quote], source="fal's pricing API").catalog
    assert catalog.get("flux-dev").price_text == "$0.05 per megapixel"
    return catalog


async def _charged(store: MemoryStore) -> list[Decimal]:
    return [e.cost_usd for e in await store.ledger(UsageFilter("w1", START))]


async def test_a_price_refreshed_while_a_job_waits_or_runs_does_not_change_what_it_costs(
    make_engine: EngineFactory, store: MemoryStore, fal: FakeFal
) -> None:
    engine = await make_engine(max_concurrency=1)
    fal.auto_finish = False
    running, waiting = RecordingReply(), RecordingReply()
    await submit(engine, request(model="flux-dev"), running)  # 1 MP at $0.025, at fal
    await fal.wait_for_submits(1)
    await submit(engine, request(model="flux-dev"), waiting)  # at $0.025, in falbot's line

    engine.live_catalog.use(doubled())
    after = RecordingReply()
    await submit(engine, request(model="flux-dev"), after)  # admitted at the new $0.05
    for n in (1, 2, 3):
        await fal.wait_for_submits(n)
        fal.finish(f"req-{n}")
    for reply in (running, waiting, after):
        await reply.wait()

    costs = [r.delivery.result.cost_usd for r in (running, waiting, after) if r.delivery]
    assert costs == [Decimal("0.025"), Decimal("0.025"), Decimal("0.05")]
    assert sorted(await _charged(store)) == [Decimal("0.025"), Decimal("0.025"), Decimal("0.05")]


async def test_after_a_restart_a_job_settles_at_its_admitted_price(
    store: MemoryStore, fal: FakeFal, clock: FakeClock
) -> None:
    fal.auto_finish = False
    first = Engine(store=store, fal=fal, clock=clock, catalog=build_catalog(), config=config())
    first.add_reply_factory(RecordingReplyFactory())
    await first.start()
    job = await submit(first, request(model="flux-dev"), RecordingReply())
    await fal.wait_for_submits(1)
    await first.stop()

    second = Engine(store=store, fal=fal, clock=clock, catalog=doubled(), config=config())
    replies = RecordingReplyFactory()
    second.add_reply_factory(replies)
    await second.start()
    try:
        fal.finish("req-1")
        reply = replies.rebuild(job)
        await reply.wait()
    finally:
        await second.stop()

    assert reply.delivery is not None
    assert reply.delivery.result.cost_usd == Decimal("0.025")
    assert await _charged(store) == [Decimal("0.025")]
