"""Prices from fal's pricing API applied to the catalog: only quotes that can be trusted."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from core import repricing
from core.catalog import Catalog, ModelSpec
from core.engine import Engine, EngineConfig
from core.jobs import JobKind, Output
from core.model_table import build_catalog
from core.pricing import PerImage, PerMegapixel, PerSecond, TokenBilled
from core.quota import BucketLimits
from core.quotes import Quote
from tests.fakes.clock import FakeClock
from tests.fakes.fal import FakeFal
from tests.fakes.memory_store import MemoryStore

D = Decimal
SOURCE = "fal's pricing API"


def quote(endpoint: str, price: object, unit: object = "images", currency: object = "USD") -> Quote:
    return Quote(endpoint, price, unit, currency)


def reprice(*quotes: Quote, catalog: Catalog | None = None) -> tuple[Catalog, dict[str, Any]]:
    result = repricing.reprice(catalog or build_catalog(), quotes, source=SOURCE)
    return result.catalog, {r.model: r for r in result.reports}


def image(width: int = 1024, height: int = 1024) -> Output:
    return Output(url="https://cdn/x.png", content_type="image/png", width=width, height=height)


def test_a_usd_quote_in_the_rules_unit_within_the_band_sets_the_price() -> None:
    catalog, reports = reprice(quote("fal-ai/nano-banana", D("0.04")))
    spec = catalog.get("nano-banana")
    assert reports["nano-banana"].refreshed and reports["nano-banana"].changed
    assert "$0.039 per image → $0.04 per image" in reports["nano-banana"].detail
    assert spec.pricing.estimate({"num_images": 3}) == D("0.12")
    assert spec.pricing.actual({}, (image(), image())) == D("0.08")
    models = len(build_catalog().all())
    assert f"fal's pricing API (1 of {models} models" in catalog.prices_from


def test_the_built_in_catalog_is_left_as_it_was() -> None:
    builtin = build_catalog()
    before = {s.name: s.pricing for s in builtin.all()}
    catalog, _ = reprice(quote("fal-ai/nano-banana", D("0.05")), catalog=builtin)
    assert {s.name: s.pricing for s in builtin.all()} == before
    assert builtin.get("nano-banana").pricing == PerImage(D("0.039"))
    assert catalog.get("nano-banana").pricing == PerImage(D("0.05"))
    assert builtin.prices_from == "the built-in table"


def test_megapixel_models_take_megapixel_quotes_and_charge_by_output_size() -> None:
    catalog, reports = reprice(quote("fal-ai/flux/dev", "0.03", unit="megapixels"))
    assert reports["flux-dev"].refreshed
    pricing = catalog.get("flux-dev").pricing
    assert isinstance(pricing, PerMegapixel)
    assert pricing.actual({"aspect_ratio": "1:1"}, (image(2048, 1024),)) == D("0.06")


@pytest.mark.parametrize(
    ("unit", "why"),
    [
        ("images", "fal bills it per 'images'; falbot bills per megapixel"),
        ("processed megapixels", "per 'processed megapixels'"),
        ("requests", "per 'requests'"),
        (None, "per None"),
        (7, "per 7"),
    ],
)
def test_a_quote_in_another_unit_is_refused(unit: object, why: str) -> None:
    catalog, reports = reprice(quote("fal-ai/flux/dev", "0.025", unit=unit))
    report = reports["flux-dev"]
    assert not report.refreshed and report.refused
    assert why in report.detail
    assert catalog.get("flux-dev").pricing == build_catalog().get("flux-dev").pricing


def test_unit_names_are_read_loosely_but_not_confused() -> None:
    _, reports = reprice(
        quote("fal-ai/nano-banana", "0.04", unit=" Image "),
        quote("fal-ai/sora-2/text-to-video", "0.12", unit="video_seconds"),
        quote("fal-ai/veo3", "0.25", unit="compute seconds"),
    )
    assert reports["nano-banana"].refreshed
    assert reports["sora-2"].refreshed
    assert not reports["veo3"].refreshed and "compute seconds" in reports["veo3"].detail


@pytest.mark.parametrize("currency", ["EUR", "usd ", None, ""])
def test_only_usd_is_taken(currency: object) -> None:
    catalog, reports = reprice(quote("fal-ai/nano-banana", "0.04", currency=currency))
    if currency == "usd ":
        assert reports["nano-banana"].refreshed  # the same currency, written loosely
    else:
        assert not reports["nano-banana"].refreshed
        assert "not USD" in reports["nano-banana"].detail
        assert catalog.get("nano-banana").pricing == PerImage(D("0.039"))


@pytest.mark.parametrize(
    "price",
    [
        0,
        -0.04,
        "0",
        "-1",
        "NaN",
        "sNaN",
        "Infinity",
        "abc",
        "",
        None,
        True,
        [0.04],
        {"usd": 1},
        "1" * 41,
        float("nan"),
        float("inf"),
    ],
)
def test_a_price_that_is_not_a_finite_positive_number_is_refused(price: object) -> None:
    catalog, reports = reprice(quote("fal-ai/nano-banana", price))
    assert not reports["nano-banana"].refreshed and reports["nano-banana"].refused
    assert catalog.get("nano-banana").pricing == PerImage(D("0.039"))


@pytest.mark.parametrize(
    ("price", "ok"),
    [
        ("0.0078", True),  # 0.2× of 0.039
        ("0.0077", False),
        ("0.195", True),  # 5×
        ("0.1951", False),
        ("1e-30", False),
        ("1e30", False),
        (0.04, True),  # a JSON float read as float still works, exactly
        (1, False),  # an int: $1 per image is 25× the built-in
    ],
)
def test_the_sanity_band_is_0_2_to_5_times_the_built_in_price(price: object, ok: bool) -> None:
    catalog, reports = reprice(quote("fal-ai/nano-banana", price))
    assert reports["nano-banana"].refreshed is ok
    if not ok:
        assert "outside 0.2×–5× of the built-in $0.039" in reports["nano-banana"].detail
    else:
        assert catalog.get("nano-banana").pricing == PerImage(D(str(price)))


def test_a_one_tier_per_second_rule_takes_the_quote_as_before() -> None:
    catalog, reports = reprice(quote("fal-ai/sora-2/text-to-video", "0.1200003", unit="seconds"))
    assert reports["sora-2"].refreshed and reports["sora-2"].changed
    pricing = catalog.get("sora-2").pricing
    assert isinstance(pricing, PerSecond)
    assert pricing.by_resolution["720p"] == D("0.120001")  # rounded up to the micro-dollar
    assert pricing.estimate({"duration": 8}) == D("0.960008")


@pytest.mark.parametrize(
    ("endpoint", "model", "price", "tier"),
    [
        ("fal-ai/veo3", "veo3", "0.40", "with audio"),
        ("fal-ai/veo3", "veo3", 0.2, "720p"),
        ("fal-ai/wan-25-preview/text-to-video", "wan-2.5", "0.15", "1080p"),
        ("fal-ai/wan-25-preview/text-to-video", "wan-2.5", "0.05", "480p"),
        ("fal-ai/gemini-3-pro-image-preview/edit", "nano-banana-pro-edit", "0.30", "4K"),
        ("fal-ai/gemini-3-pro-image-preview/edit", "nano-banana-pro-edit", "0.15", "1K and 2K"),
    ],
)
def test_a_quote_that_is_one_of_a_multi_tier_rules_tiers_maps_to_that_tier(
    endpoint: str, model: str, price: object, tier: str
) -> None:
    unit = "images" if "image" in endpoint else "seconds"
    catalog, reports = reprice(quote(endpoint, price, unit=unit))
    report = reports[model]
    assert report.refreshed and not report.refused and not report.changed
    assert f"is its {tier} price" in report.detail
    # mapped to its tier, the table stands: no tier is scaled by another's figure
    assert catalog.get(model).pricing == build_catalog().get(model).pricing


def test_veo3_quoted_at_its_audio_price_does_not_double_every_job() -> None:
    catalog, _ = reprice(quote("fal-ai/veo3", "0.40", unit="seconds"))
    pricing = catalog.get("veo3").pricing
    assert pricing.estimate({"duration": 8, "generate_audio": False}) == D("1.6")
    assert pricing.estimate({"duration": 8, "generate_audio": True}) == D("3.2")


@pytest.mark.parametrize(
    ("endpoint", "model", "price"),
    [
        ("fal-ai/veo3", "veo3", "0.25"),
        ("fal-ai/veo3", "veo3", "0.2000003"),
        ("fal-ai/wan-25-preview/text-to-video", "wan-2.5", "0.06"),
        ("fal-ai/gemini-3-pro-image-preview/edit", "nano-banana-pro-edit", "0.20"),
    ],
)
def test_a_quote_matching_no_tier_of_a_multi_tier_rule_keeps_the_table_and_says_why(
    endpoint: str, model: str, price: str
) -> None:
    unit = "images" if "image" in endpoint else "seconds"
    catalog, reports = reprice(quote(endpoint, price, unit=unit))
    report = reports[model]
    assert not report.refreshed and report.refused and not report.changed
    assert f"fal's price ${price} is none of its tiers" in report.detail
    assert catalog.get(model).pricing == build_catalog().get(model).pricing


def test_a_tier_refusal_names_every_tier() -> None:
    _, reports = reprice(quote("fal-ai/veo3", "0.25", unit="seconds"))
    assert "(720p $0.20, with audio $0.40)" in reports["veo3"].detail


def test_quality_tiers_cannot_be_mapped_and_keep_the_built_in_table() -> None:
    catalog, reports = reprice(quote("fal-ai/gpt-image-1.5/edit", "0.04"))
    report = reports["gpt-image-edit"]
    assert not report.refreshed
    assert not report.refused  # by design, not a bad figure from fal: no warning at startup
    assert "quality, size and tokens" in report.detail
    assert isinstance(catalog.get("gpt-image-edit").pricing, TokenBilled)
    assert catalog.get("gpt-image-edit").pricing == build_catalog().get("gpt-image-edit").pricing


def test_esrgan_is_priced_by_its_setting_whatever_fal_says() -> None:
    catalog, reports = reprice(quote("fal-ai/esrgan", "0.003"))
    assert not reports["esrgan"].refreshed and not reports["esrgan"].refused
    assert "catalog setting" in reports["esrgan"].detail
    assert catalog.get("esrgan").pricing == PerImage(D("0.002"))


def test_models_fal_did_not_quote_keep_their_price_and_unknown_endpoints_are_ignored() -> None:
    result = repricing.reprice(
        build_catalog(),
        [quote("fal-ai/nano-banana", "0.04"), quote("someone/else", "9", "requests")],
        source=SOURCE,
    )
    reports = {r.model: r for r in result.reports}
    assert len(reports) == len(build_catalog().all())
    assert reports["flux-schnell"].detail.endswith("fal gave no price for it")
    assert not reports["flux-schnell"].refused
    assert result.unknown == ("someone/else",)
    assert result.refreshed == 1
    models = len(build_catalog().all())
    assert result.summary() == f"1 of {models} models priced from fal's pricing API"
    assert [s.name for s in result.catalog.all()] == [s.name for s in build_catalog().all()]


def test_no_quote_at_all_keeps_the_whole_table_and_its_source() -> None:
    result = repricing.reprice(build_catalog(), [], source=SOURCE)
    assert result.refreshed == 0
    assert result.catalog.prices_from == "the built-in table"
    for spec in result.catalog.all():
        assert spec.pricing == build_catalog().get(spec.name).pricing


def test_conflicting_quotes_for_one_endpoint_are_refused_identical_ones_are_fine() -> None:
    _, reports = reprice(
        quote("fal-ai/nano-banana", "0.04"),
        quote("fal-ai/nano-banana", "0.05"),
        quote("fal-ai/flux/schnell", "0.004", "megapixels"),
        quote("fal-ai/flux/schnell", "0.004", "megapixels"),
    )
    assert (
        not reports["nano-banana"].refreshed
        and "different figures" in reports["nano-banana"].detail
    )
    assert reports["flux-schnell"].refreshed


def test_defaults_and_lookups_survive_a_repricing() -> None:
    catalog, _ = reprice(quote("fal-ai/flux/schnell", "0.004", "megapixels"))
    spec: ModelSpec = catalog.default_for(JobKind.IMAGE)
    assert spec.name == "flux-schnell"
    assert spec.price_text == "$0.004 per megapixel"


def test_an_engine_takes_a_repriced_catalog_only_with_the_same_models() -> None:
    builtin = build_catalog()
    engine = Engine(
        store=MemoryStore(),
        fal=FakeFal(),
        clock=FakeClock(),
        catalog=builtin,
        config=EngineConfig(default_limits=BucketLimits(D(100), D(0))),
    )
    repriced, _ = reprice(quote("fal-ai/flux/schnell", "0.006", "megapixels"))
    engine.live_catalog.use(repriced)
    assert engine.live_catalog.get("flux-schnell").price_text == "$0.006 per megapixel"

    fewer = Catalog([s for s in builtin.all() if s.name != "veo3"], {})
    with pytest.raises(ValueError, match="veo3"):
        engine.live_catalog.use(fewer)
    assert engine.live_catalog.catalog is repriced
