"""`adapters.fal.pricing` against the simulator's pricing API: quotes, pages, and every fault
answered with what was got plus a reason (never an exception, never the key)."""

from __future__ import annotations

import logging
import time
from decimal import Decimal

import httpx
import pytest

from adapters.fal.pricing import PriceFetch, fetch_prices
from adapters.fal.simulator import FalSimulator, HttpFault
from core.model_table import build_catalog
from core.pricing import PerImage
from core.quotes import Quote
from core.repricing import reprice
from tests.integration.fal.fixtures import SIM_KEY

ENDPOINTS = [spec.endpoint for spec in build_catalog().all()]


async def fetch(sim: FalSimulator, *, key: str = SIM_KEY, within: float = 5.0) -> PriceFetch:
    return await fetch_prices(key=key, endpoint_ids=ENDPOINTS, api_url=sim.api_url, within=within)


async def test_one_request_brings_every_models_quote_as_decimal(fal_sim: FalSimulator) -> None:
    got = await fetch(fal_sim)
    assert got.ok, got.problem
    assert [q.endpoint_id for q in got.quotes] == ENDPOINTS
    assert fal_sim.http_by_route["pricing"] == 1
    nano = next(q for q in got.quotes if q.endpoint_id == "fal-ai/nano-banana")
    assert nano == Quote("fal-ai/nano-banana", Decimal("0.039"), "images", "USD")


async def test_the_simulators_default_table_reprices_nothing(fal_sim: FalSimulator) -> None:
    got = await fetch(fal_sim)
    builtin = build_catalog()
    result = reprice(builtin, got.quotes, source="fal")
    for spec in result.catalog.all():
        assert spec.pricing == builtin.get(spec.name).pricing, spec.name
    kept = {r.model for r in result.reports if not r.refreshed}
    # tiers, a catalog setting, and tokens of the LLM fal routes to (falbot's estimate)
    assert kept == {"gpt-image-edit", "esrgan", "describe"}


async def test_a_changed_price_at_fal_comes_through(fal_sim: FalSimulator) -> None:
    fal_sim.prices["fal-ai/nano-banana"]["unit_price"] = 0.05
    got = await fetch(fal_sim)
    result = reprice(build_catalog(), got.quotes, source="fal")
    assert result.catalog.get("nano-banana").pricing == PerImage(Decimal("0.05"))


async def test_pages_are_followed_by_cursor(fal_sim: FalSimulator) -> None:
    fal_sim.price_page_size = 3
    got = await fetch(fal_sim)
    assert got.ok, got.problem
    assert [q.endpoint_id for q in got.quotes] == ENDPOINTS
    assert fal_sim.http_by_route["pricing"] == -(-len(ENDPOINTS) // 3)  # 3 a page, the rest last


async def test_a_wrong_key_gets_401_and_no_quotes(fal_sim: FalSimulator) -> None:
    got = await fetch(fal_sim, key="someone-else:secret")
    assert got.quotes == ()
    assert got.problem == "the key may not read fal's pricing API (HTTP 401)"


async def test_a_key_without_access_gets_403_and_no_quotes(fal_sim: FalSimulator) -> None:
    fal_sim.pricing_access = False
    got = await fetch(fal_sim)
    assert got.quotes == ()
    assert got.problem == "the key may not read fal's pricing API (HTTP 403)"


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_server_error_is_a_reason_not_an_exception(
    fal_sim: FalSimulator, status: int
) -> None:
    fal_sim.inject("pricing", HttpFault(status=status))
    got = await fetch(fal_sim)
    assert got.quotes == ()
    assert got.problem == f"fal's pricing API answered HTTP {status}"


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        (HttpFault(status=200, text="<html>maintenance</html>"), "not JSON"),
        (HttpFault(status=200, body=["fal-ai/flux/dev"]), "without a list of prices"),
        (HttpFault(status=200, body={"prices": {"a": 1}}), "without a list of prices"),
        (HttpFault(status=200, body={"detail": "ok"}), "without a list of prices"),
        (HttpFault(status=200, text="{" + '"x":' * 10), "not JSON"),
        (HttpFault(status=200, text="[" * 200_000), "not JSON"),
        (HttpFault(status=200, text="1" * 5000), "not JSON"),
        (HttpFault(status=200, text=" " * (1024 * 1024 + 1)), "too large"),
    ],
)
async def test_a_malformed_answer_is_refused(
    fal_sim: FalSimulator, fault: HttpFault, problem: str
) -> None:
    fal_sim.inject("pricing", fault)
    got = await fetch(fal_sim)
    assert got.quotes == ()
    assert got.problem is not None and problem in got.problem


async def test_entries_without_an_endpoint_are_skipped_and_odd_values_passed_on_for_core(
    fal_sim: FalSimulator,
) -> None:
    body = {
        "prices": [
            "fal-ai/flux/dev",
            {"unit_price": 1},
            {"endpoint_id": 7},
            {"endpoint_id": "fal-ai/nano-banana", "unit_price": "NaN", "unit": None},
        ]
    }
    fal_sim.inject("pricing", HttpFault(status=200, body=body))
    got = await fetch(fal_sim)
    assert got.ok
    assert got.quotes == (Quote("fal-ai/nano-banana", "NaN", None, None),)
    report = reprice(build_catalog(), got.quotes, source="fal").reports
    assert not next(r for r in report if r.model == "nano-banana").refreshed


async def test_a_page_failing_midway_keeps_the_quotes_already_read(fal_sim: FalSimulator) -> None:
    body = {"prices": [{"endpoint_id": ENDPOINTS[0], "unit_price": 0.025}], "has_more": True}
    fal_sim.inject("pricing", HttpFault(status=200, body=body))
    got = await fetch(fal_sim)
    assert len(got.quotes) == 1
    assert got.problem == "fal's pricing API said it had more but gave no cursor"


async def test_a_cursor_that_repeats_stops_the_paging(fal_sim: FalSimulator) -> None:
    page = {"prices": [], "has_more": True, "next_cursor": "again"}
    fal_sim.inject("pricing", HttpFault(status=200, body=page), count=3)
    got = await fetch(fal_sim)
    assert got.problem == "fal's pricing API gave the same cursor twice"
    assert fal_sim.http_by_route["pricing"] == 2


async def test_a_slow_answer_times_out_quickly(fal_sim: FalSimulator) -> None:
    fal_sim.inject("pricing", HttpFault.slow(2.0))
    started = time.monotonic()
    got = await fetch(fal_sim, within=0.2)
    assert time.monotonic() - started < 1.5
    assert got.quotes == ()
    assert got.problem == "fal's pricing API did not answer within 0.2 s"


async def test_a_dropped_connection_is_a_reason(fal_sim: FalSimulator) -> None:
    fal_sim.inject("pricing", HttpFault(drop=True))
    got = await fetch(fal_sim)
    assert got.quotes == ()
    assert got.problem is not None and got.problem.startswith("could not reach fal's pricing API")


async def test_nothing_listening_is_a_reason(unused_tcp_port: int) -> None:
    got = await fetch_prices(
        key=SIM_KEY, endpoint_ids=ENDPOINTS, api_url=f"http://127.0.0.1:{unused_tcp_port}"
    )
    assert got.quotes == ()
    assert got.problem == "could not reach fal's pricing API (ConnectError)"


async def test_the_key_is_sent_as_fal_wants_and_never_shown(
    fal_sim: FalSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with httpx.AsyncClient() as client:
        bare = await client.get(f"{fal_sim.api_url}/v1/models/pricing?endpoint_id=fal-ai/veo3")
        assert bare.status_code == 401
    for fault in (HttpFault(status=500), HttpFault(drop=True), HttpFault(status=403)):
        fal_sim.inject("pricing", fault)
        got = await fetch(fal_sim)
        assert got.problem is not None and SIM_KEY not in got.problem
    assert SIM_KEY not in caplog.text


# -- multi-tier models: fal's one figure may be any tier ----------------------------------------


async def test_veo3_quoted_at_its_audio_price_keeps_every_veo3_job_at_its_own_price(
    fal_sim: FalSimulator,
) -> None:
    fal_sim.quote_tier("fal-ai/veo3", "with audio")
    got = await fetch(fal_sim)
    veo = next(q for q in got.quotes if q.endpoint_id == "fal-ai/veo3")
    assert veo.unit_price == Decimal("0.4")
    result = reprice(build_catalog(), got.quotes, source="fal")
    report = next(r for r in result.reports if r.model == "veo3")
    assert report.refreshed and not report.changed and "with audio price" in report.detail
    pricing = result.catalog.get("veo3").pricing
    assert pricing.estimate({"duration": 8, "generate_audio": False}) == Decimal("1.6")  # not 3.2
    assert pricing.estimate({"duration": 8, "generate_audio": True}) == Decimal("3.2")  # not 6.4


@pytest.mark.parametrize(
    ("endpoint", "tier"),
    [
        ("fal-ai/wan-25-preview/text-to-video", "1080p"),
        ("fal-ai/gemini-3-pro-image-preview/edit", "4K"),
    ],
)
async def test_any_tier_quoted_maps_to_that_tier_and_changes_nothing(
    fal_sim: FalSimulator, endpoint: str, tier: str
) -> None:
    fal_sim.quote_tier(endpoint, tier)
    result = reprice(build_catalog(), (await fetch(fal_sim)).quotes, source="fal")
    for spec in result.catalog.all():
        assert spec.pricing == build_catalog().get(spec.name).pricing, spec.name
    assert not any(r.refused or r.changed for r in result.reports)


async def test_a_multi_tier_quote_matching_no_tier_keeps_the_table_with_one_warning_per_model(
    fal_sim: FalSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.app import priced_catalog
    from bot.settings import Settings

    fal_sim.prices["fal-ai/veo3"]["unit_price"] = 0.3
    settings = Settings(FAL_KEY=SIM_KEY, FALBOT_FAL_API_URL=fal_sim.api_url)
    caplog.set_level(logging.INFO)
    catalog = await priced_catalog(settings)
    assert catalog.get("veo3").pricing == build_catalog().get("veo3").pricing
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "price of veo3: kept built-in $0.20/s at 720p, $0.40/s with audio: fal's price $0.3 is"
        " none of its tiers (720p $0.20, with audio $0.40); one figure for a rule with several"
        " cannot be placed, so the table stands"
    ]


def test_the_simulator_names_the_tiers_it_can_quote(fal_sim: FalSimulator) -> None:
    with pytest.raises(ValueError, match="720p, with audio"):
        fal_sim.quote_tier("fal-ai/veo3", "4k")
