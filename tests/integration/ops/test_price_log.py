"""The price log lines: one per price that changed, at start and at each refresh; a refresh that
changes nothing says nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from adapters.fal.simulator import FalSimulator
from bot.app import priced_catalog
from tests.integration.ops.conftest import ops_settings


def price_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    caplog.clear()
    return [line for line in lines if line.startswith(("price", "prices"))]


async def test_only_a_changed_price_is_logged(
    fal_sim: FalSimulator, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.app")
    fal_sim.prices["fal-ai/flux/schnell"]["unit_price"] = 0.006
    settings = ops_settings(fal_sim, db_path, FALBOT_FAL_API_URL=fal_sim.api_url)

    catalog = await priced_catalog(settings)
    started = price_lines(caplog)
    assert [line for line in started if line.startswith("price of")] == [
        "price of flux-schnell: $0.003 per megapixel → $0.006 per megapixel"
    ]

    catalog = await priced_catalog(settings, current=catalog)  # the daily refresh, no change
    assert price_lines(caplog) == []

    fal_sim.prices["fal-ai/nano-banana"]["unit_price"] = 0.045
    await priced_catalog(settings, current=catalog)
    assert [line for line in price_lines(caplog) if line.startswith("price of")] == [
        "price of nano-banana: $0.039 per image → $0.045 per image"
    ]
