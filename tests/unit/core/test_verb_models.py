"""The verbs' models of issue 14 (and issue 15's fill): each price checked against fal's page
with sample outputs, and each input model's caps."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from core.errors import BotError
from core.jobs import JobKind, Output
from core.live_catalog import LiveCatalog
from core.model_table import build_catalog
from core.options import ranges


def image(width: int, height: int) -> Output:
    return Output(url="https://cdn/x.png", content_type="image/png", width=width, height=height)


VIDEO = Output(url="https://cdn/x.mp4", content_type="video/mp4")


def priced(model: str, options: dict[str, Any], *, images: int) -> tuple[Any, dict[str, Any]]:
    spec = build_catalog().get(model)
    return spec.pricing, spec.validate(options, image_count=images)


def test_clarity_upscale_is_three_cents_per_output_megapixel() -> None:
    # fal: "$0.03 per megapixels"; a 1024×1024 result ×2 is 2048×2048, four megapixels.
    rule, params = priced("clarity-upscale", {"scale": 2}, images=1)
    assert rule.estimate(params) == D("0.12")
    assert rule.actual(params, (image(2048, 2048),)) == D("0.12")
    # a bigger parent is charged by what came back: 3072×2048 is six megapixels
    assert rule.actual(params, (image(3072, 2048),)) == D("0.18")
    rule, params = priced("clarity-upscale", {"scale": 4}, images=1)
    assert rule.estimate(params) == D("0.48")  # 4096×4096: 16 megapixels


def test_bria_expand_is_four_cents_an_image_whatever_the_canvas() -> None:
    options = {"canvas_width": 2048, "canvas_height": 2048, "image_width": 1024}
    options |= {"image_height": 1024, "image_x": 512, "image_y": 512}
    rule, params = priced("bria-expand", options, images=1)
    assert rule.estimate(params) == D("0.04")
    assert rule.actual(params, (image(2048, 2048),)) == D("0.04")
    assert rule.actual(params, ()) == D(0)


def test_kontext_blend_is_four_cents_per_output_image() -> None:
    rule, params = priced("kontext-blend", {"prompt": "a fox", "count": 2}, images=3)
    assert rule.estimate(params) == D("0.08")
    assert rule.actual(params, (image(1024, 1024), image(1024, 1024))) == D("0.08")


@pytest.mark.parametrize(
    ("resolution", "seconds", "usd"),
    [("480p", 5, "0.25"), ("720p", 5, "0.50"), ("720p", 10, "1.00"), ("1080p", 10, "1.50")],
)
def test_wan_animate_is_priced_per_second_by_resolution(
    resolution: str, seconds: int, usd: str
) -> None:
    options = {"prompt": "it moves", "resolution": resolution, "duration": seconds}
    rule, params = priced("wan-2.5-animate", options, images=1)
    assert rule.estimate(params) == D(usd)
    assert rule.actual(params, (VIDEO,)) == D(usd)
    assert rule.actual(params, ()) == D(0)


def test_flux_fill_is_five_cents_per_megapixel_rounded_up() -> None:
    options = {"prompt": "a hat", "mask_url": "https://cdn/mask.png"}
    rule, params = priced("flux-fill", options, images=1)
    assert rule.estimate(params) == D("0.05")  # a 1024×1024 parent
    assert rule.actual(params, (image(1024, 1024),)) == D("0.05")
    assert rule.actual(params, (image(1536, 1024),)) == D("0.10")  # 1.5 MP bills as two


def test_flux_vary_is_two_and_a_half_cents_per_output_megapixel() -> None:
    # fal's FLUX.1 [dev] pages: "$0.025 per megapixel", each image rounded up; image to image
    # answers at the input's size, so a Vary of a 1024×1024 result costs 4 × $0.025.
    options = {"prompt": "a fox", "strength": 0.6, "count": 4}
    rule, params = priced("flux-vary", options, images=1)
    assert rule.estimate(params) == D("0.10")
    assert rule.actual(params, tuple(image(1024, 1024) for _ in range(4))) == D("0.10")
    assert rule.actual(params, (image(1536, 1024),) * 4) == D("0.20")  # two MP each
    assert rule.actual(params, (image(1024, 576),)) == D("0.025")  # one MP, rounded up
    assert rule.actual(params, ()) == D(0)


def test_flux_vary_sends_fals_fields_and_caps_the_strength() -> None:
    spec = build_catalog().get("flux-vary")
    params = spec.validate({"prompt": "a fox", "strength": 0.9, "seed": 3}, image_count=1)
    assert spec.arguments(params, ["https://in"]) == {
        "prompt": "a fox",
        "strength": 0.9,
        "num_images": 1,
        "seed": 3,
        "image_url": "https://in",
    }
    for strength in (0, 1.5):
        with pytest.raises(BotError):
            spec.validate({"prompt": "a fox", "strength": strength}, image_count=1)
    with pytest.raises(BotError):
        spec.validate({"prompt": "a fox"}, image_count=0)


def test_blend_takes_two_to_five_images() -> None:
    spec = build_catalog().get("kontext-blend")
    for count in (2, 5):
        spec.validate({"prompt": "x"}, image_count=count)
    for count in (0, 1, 6):
        with pytest.raises(BotError):
            spec.validate({"prompt": "x"}, image_count=count)


def test_animate_needs_its_first_frame_and_takes_one() -> None:
    spec = build_catalog().get("wan-2.5-animate")
    spec.validate({"prompt": "x"}, image_count=1)
    for count in (0, 2):
        with pytest.raises(BotError):
            spec.validate({"prompt": "x"}, image_count=count)


@pytest.mark.parametrize(
    "options",
    [
        {"image_x": 1100},  # falls off the canvas's right side
        {"canvas_width": 1024, "canvas_height": 1024},  # nothing to expand
        {"canvas_width": 6000},  # over fal's 5000
        {"image_width": 10},  # too small a side
    ],
)
def test_expand_refuses_a_placement_off_the_canvas_or_out_of_bounds(
    options: dict[str, Any],
) -> None:
    base = {"canvas_width": 2048, "canvas_height": 1024, "image_width": 1024}
    base |= {"image_height": 1024, "image_x": 0, "image_y": 0}
    with pytest.raises(BotError):
        build_catalog().get("bria-expand").validate(base | options, image_count=1)


@pytest.mark.parametrize(
    ("model", "options"),
    [
        ("clarity-upscale", {"scale": 5}),
        ("clarity-upscale", {"scale": 0.5}),
        ("flux-fill", {"prompt": "x", "mask_url": "file:///etc/passwd"}),
        ("flux-fill", {"prompt": "x"}),
        ("wan-2.5-animate", {"prompt": "x" * 801}),
        ("wan-2.5-animate", {"prompt": "x", "duration": 7}),
        ("kontext-blend", {"prompt": "x", "aspect": "5:4"}),
    ],
)
def test_each_field_is_capped(model: str, options: dict[str, Any]) -> None:
    spec = build_catalog().get(model)
    with pytest.raises(BotError):
        spec.validate(options, image_count=spec.min_input_images)


def test_the_verbs_fal_arguments_are_fals_field_names() -> None:
    catalog = build_catalog()
    options = {"canvas_width": 1536, "canvas_height": 1024, "image_width": 1024}
    options |= {"image_height": 1024, "image_x": 512, "image_y": 0}
    spec = catalog.get("bria-expand")
    args = spec.arguments(spec.validate(options, image_count=1), ["https://in"])
    assert args == {
        "image_url": "https://in",
        "canvas_size": [1536, 1024],
        "original_image_size": [1024, 1024],
        "original_image_location": [512, 0],
    }
    spec = catalog.get("wan-2.5-animate")
    args = spec.arguments(spec.validate({"prompt": "go"}, image_count=1), ["https://in"])
    assert args == {
        "prompt": "go",
        "resolution": "720p",
        "duration": "5",
        "image_url": "https://in",
    }


def test_models_lists_the_verbs_models_with_their_prices() -> None:
    from core.render import render_models

    text = render_models(build_catalog().all())
    for line in (
        "`clarity-upscale` (upscale): Clarity creative upscale ×1 to ×4, adds detail"
        " · $0.03 per output megapixel",
        "`bria-expand` (expand): Bria Expand: zoom out and pan onto a bigger canvas"
        " · $0.04 per image",
        "`kontext-blend` (blend): FLUX.1 Kontext [pro] multi: blend 2 to 5 images"
        " · $0.04 per image",
        "`wan-2.5-animate` (animate): Wan 2.5 image to video: animate an image, 5 or 10 s"
        " · $0.05/s at 480p, $0.10/s at 720p, $0.15/s at 1080p",
        "`flux-fill` (fill): FLUX.1 [pro] Fill: repaint a masked region"
        " · $0.05 per output megapixel",
        "`flux-vary` (vary): FLUX.1 [dev] image to image: variations of an image, subtle or"
        " strong · $0.025 per output megapixel",
    ):
        assert line in text


@pytest.mark.parametrize(
    ("kind", "model", "plain"),
    [
        (JobKind.EXPAND, "bria-expand", JobKind.EDIT),
        (JobKind.FILL, "flux-fill", JobKind.EDIT),
        (JobKind.BLEND, "kontext-blend", JobKind.EDIT),
        (JobKind.ANIMATE, "wan-2.5-animate", JobKind.VIDEO),
        (JobKind.VARY, "flux-vary", JobKind.EDIT),
    ],
)
def test_each_verb_kind_has_its_model_and_the_plain_commands_refuse_it(
    kind: JobKind, model: str, plain: JobKind
) -> None:
    live = LiveCatalog(build_catalog())
    assert live.for_kind(kind).name == model
    with pytest.raises(BotError):
        live.for_kind(plain, model)


def test_clarity_is_an_upscale_model_taking_upscales_scale() -> None:
    live = LiveCatalog(build_catalog())
    spec = live.for_kind(JobKind.UPSCALE, "clarity-upscale")
    params = spec.validate({"scale": 4}, image_count=1)  # what /upscale sends
    assert spec.arguments(params, ["https://in"])["upscale_factor"] == 4


def test_a_fills_mask_is_not_listed_as_an_option_people_type() -> None:
    """The mask comes from the region painter's page, never from a typed `--mask-url`."""
    assert "mask-url" not in ranges(build_catalog().get("flux-fill").input_model)
