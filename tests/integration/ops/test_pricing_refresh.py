"""A whole falbot (`bot.run.serving`) reads fal's prices at start: a price changed at fal is what
a job costs in its reply and the ledger; with the pricing API failing, the built-in price is."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.fal.simulator import FalSimulator, HttpFault
from bot.app import keep_prices_fresh
from bot.run import Running, serving
from core.jobs import Actor
from core.ports import UsageFilter
from core.render import render_models
from tests.fakes.asking import Ask, submit
from tests.fakes.reply import RecordingReply
from tests.integration.fal.fixtures import SIM_KEY
from tests.integration.ops.conftest import ops_settings

ACTOR = Actor("console", "w1", "u1")
SCHNELL = "fal-ai/flux/schnell"


async def one_job(running: Running) -> tuple[Decimal, Decimal]:
    """A 1:1 flux-schnell image (one megapixel): its cost in the reply and in the ledger."""
    reply = RecordingReply()
    request = Ask(ACTOR, "flux-schnell", {"prompt": "a fox"}, ())
    await submit(running.app.engine, request, reply)
    await reply.wait(10)
    assert reply.delivery is not None, reply.error
    since = datetime.now(UTC) - timedelta(hours=1)
    ledger = await running.app.store.ledger(UsageFilter("w1", since))
    assert [e.model for e in ledger] == ["flux-schnell"]
    return reply.delivery.result.cost_usd, ledger[0].cost_usd


def settings(fal_sim: FalSimulator, db_path: Path, **extra: Any) -> Any:
    return ops_settings(fal_sim, db_path, FALBOT_FAL_API_URL=fal_sim.api_url, **extra)


async def test_a_price_changed_at_fal_is_what_a_job_costs(
    fal_sim: FalSimulator, db_path: Path
) -> None:
    fal_sim.prices[SCHNELL]["unit_price"] = 0.006  # twice the built-in $0.003 per megapixel
    async with serving(settings(fal_sim, db_path)) as running:
        assert fal_sim.http_by_route["pricing"] == 1
        catalog = running.app.engine.live_catalog.catalog
        assert catalog.get("flux-schnell").price_text == "$0.006 per megapixel"
        assert catalog.prices_from.startswith("fal's pricing API")
        assert "`flux-schnell` (image): FLUX.1 [schnell]: fast drafts · $0.006 per megapixel" in (
            render_models(await running.app.engine.models("w1"))
        )
        assert await one_job(running) == (Decimal("0.006"), Decimal("0.006"))


async def test_with_the_pricing_api_failing_a_job_is_billed_the_built_in_price(
    fal_sim: FalSimulator, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fal_sim.prices[SCHNELL]["unit_price"] = 0.006  # never read: the API fails
    fal_sim.inject("pricing", HttpFault(status=503))
    caplog.set_level(logging.INFO)
    async with serving(settings(fal_sim, db_path)) as running:
        assert fal_sim.http_by_route["pricing"] == 1
        assert running.app.engine.live_catalog.catalog.prices_from == "the built-in table"
        assert await one_job(running) == (Decimal("0.003"), Decimal("0.003"))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "price" in r.msg]
    assert [r.getMessage() for r in warnings] == [
        "prices: the built-in table; fal's pricing API gave no prices"
        " (fal's pricing API answered HTTP 503)"
    ]
    assert SIM_KEY not in caplog.text


async def test_a_quote_outside_the_band_is_refused_and_logged(
    fal_sim: FalSimulator, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fal_sim.prices[SCHNELL]["unit_price"] = 0.3  # 100× the built-in: a typo at fal, not a price
    fal_sim.prices["fal-ai/nano-banana"]["unit_price"] = 0.045
    async with serving(settings(fal_sim, db_path)) as running:
        catalog = running.app.engine.live_catalog.catalog
        assert catalog.get("nano-banana").price_text == "$0.045 per image"
        assert await one_job(running) == (Decimal("0.003"), Decimal("0.003"))
    refused = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(m.startswith("price of flux-schnell: kept built-in") for m in refused), refused


@pytest.mark.parametrize(
    "extra",
    [
        {"FALBOT_PRICING_REFRESH": False, "FALBOT_FAL_API_URL": "set"},
        {},  # fal's hosts point at the simulator and no pricing host is set: not api.fal.ai
    ],
)
async def test_no_pricing_request_when_refresh_is_off_or_has_no_host(
    fal_sim: FalSimulator, db_path: Path, extra: dict[str, Any]
) -> None:
    fal_sim.prices[SCHNELL]["unit_price"] = 0.006
    if extra.get("FALBOT_FAL_API_URL") == "set":
        extra = {**extra, "FALBOT_FAL_API_URL": fal_sim.api_url}
    async with serving(ops_settings(fal_sim, db_path, **extra)) as running:
        assert running.app.engine.live_catalog.catalog.prices_from == "the built-in table"
        assert await one_job(running) == (Decimal("0.003"), Decimal("0.003"))
    assert fal_sim.http_by_route["pricing"] == 0


async def test_prices_are_read_again_while_running_and_a_failed_read_keeps_them(
    fal_sim: FalSimulator, db_path: Path
) -> None:
    slept: asyncio.Queue[float] = asyncio.Queue()
    ticks: asyncio.Queue[None] = asyncio.Queue()

    async def sleep(seconds: float) -> None:  # time passes when the test says so
        slept.put_nowait(seconds)
        await ticks.get()

    async def next_sleep() -> float:
        return await asyncio.wait_for(slept.get(), 5)

    given = settings(fal_sim, db_path, FALBOT_PRICING_REFRESH_HOURS="6")
    async with serving(given) as running:
        engine = running.app.engine
        refresher = asyncio.create_task(keep_prices_fresh(engine, given, sleep=sleep))
        try:
            assert await next_sleep() == 6 * 3600
            fal_sim.prices[SCHNELL]["unit_price"] = 0.006
            ticks.put_nowait(None)
            await next_sleep()  # the refresh before it is done
            assert engine.live_catalog.get("flux-schnell").price_text == "$0.006 per megapixel"
            assert await one_job(running) == (Decimal("0.006"), Decimal("0.006"))

            fal_sim.inject("pricing", HttpFault(status=503))
            ticks.put_nowait(None)
            await next_sleep()
            # A failed read keeps the prices the engine had, not the built-in table.
            assert engine.live_catalog.get("flux-schnell").price_text == "$0.006 per megapixel"
            assert fal_sim.http_by_route["pricing"] == 3  # at start, then twice while running
        finally:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
