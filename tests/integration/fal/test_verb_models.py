"""The verbs' models (issue 14, and issue 15's fill) at the simulator through fal-client: the
catalog's endpoint and arguments are accepted, the answer has the right kind and size, and
falbot reads it; the simulator's pricing API serves each model's price."""

from __future__ import annotations

import struct
from decimal import Decimal
from typing import Any

import pytest

from adapters.fal.gateway import FalClientGateway
from adapters.fal.outputs import parse_output
from adapters.fal.pricing import fetch_prices
from adapters.fal.simulator import FalSimulator
from core.errors import BotError, ErrorCode
from core.jobs import JobKind
from core.model_table import build_catalog
from tests.integration.fal.fixtures import SIM_KEY
from tests.integration.fal.helpers import boxes, child, follow, image_dims, png

MB = 50 * 1024 * 1024


async def run(
    sim: FalSimulator,
    gateway: FalClientGateway,
    model: str,
    options: dict[str, Any],
    *,
    images: list[bytes],
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Validate, build fal's arguments with uploaded inputs, run at the simulator: the
    endpoint, the arguments sent and fal's answer."""
    spec = build_catalog().get(model)
    params = spec.validate(options, image_count=len(images))
    urls = [sim.store_file(data, "image/png", f"in{i}.png") for i, data in enumerate(images)]
    arguments = spec.arguments(params, urls)
    request_id = await gateway.submit(spec.endpoint, arguments)
    await follow(gateway, sim, spec.endpoint, request_id)
    return spec.endpoint, arguments, await gateway.result(spec.endpoint, request_id)


def mp4_seconds(data: bytes) -> float:
    mvhd = child(data, b"moov", b"mvhd")
    timescale, duration = struct.unpack(">II", mvhd[12:20])
    return duration / timescale


async def test_clarity_upscale_answers_the_input_times_the_factor(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    endpoint, _, output = await run(
        fal_sim, fal_gateway, "clarity-upscale", {"scale": 3}, images=[png(96, 64)]
    )
    assert endpoint == "fal-ai/clarity-upscaler"
    assert fal_sim.submits[-1][1]["upscale_factor"] == 3
    outputs, _ = parse_output(JobKind.UPSCALE, output)
    assert (outputs[0].width, outputs[0].height) == (288, 192)
    data = await fal_gateway.download(outputs[0].url, max_bytes=MB)
    assert image_dims(data) == ("PNG", (288, 192))


async def test_bria_expand_answers_the_canvas_size(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    options = {"canvas_width": 192, "canvas_height": 64, "image_width": 96}
    options |= {"image_height": 64, "image_x": 0, "image_y": 0}  # pan right: room on the right
    endpoint, arguments, output = await run(
        fal_sim, fal_gateway, "bria-expand", options, images=[png(96, 64)]
    )
    assert endpoint == "fal-ai/bria/expand"
    assert arguments["canvas_size"] == [192, 64]
    assert arguments["original_image_location"] == [0, 0]
    outputs, seed = parse_output(JobKind.EXPAND, output)
    assert len(outputs) == 1 and seed is not None
    assert (outputs[0].width, outputs[0].height) == (192, 64)
    data = await fal_gateway.download(outputs[0].url, max_bytes=MB)
    assert image_dims(data) == ("PNG", (192, 64))


async def test_kontext_blend_takes_several_images_and_answers_images(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    endpoint, arguments, output = await run(
        fal_sim,
        fal_gateway,
        "kontext-blend",
        {"prompt": "both together", "count": 2, "aspect": "16:9"},
        images=[png(64, 64), png(80, 64, (0, 90, 200)), png(64, 96)],
    )
    assert endpoint == "fal-ai/flux-pro/kontext/multi"
    assert len(arguments["image_urls"]) == 3
    outputs, _ = parse_output(JobKind.BLEND, output)
    assert len(outputs) == 2
    assert all(o.width and o.height and o.width > o.height for o in outputs)


@pytest.mark.parametrize("seconds", [5, 10])
async def test_wan_animate_answers_an_mp4_of_the_requested_length(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway, seconds: int
) -> None:
    endpoint, arguments, output = await run(
        fal_sim,
        fal_gateway,
        "wan-2.5-animate",
        {"prompt": "the fox runs", "duration": seconds},
        images=[png(64, 64)],
    )
    assert endpoint == "fal-ai/wan-25-preview/image-to-video"
    assert arguments["image_url"].startswith("http") and arguments["duration"] == str(seconds)
    outputs, _ = parse_output(JobKind.ANIMATE, output)
    assert outputs[0].content_type == "video/mp4"
    data = await fal_gateway.download(outputs[0].url, max_bytes=MB)
    assert [kind for kind, _ in boxes(data)][:1] == [b"ftyp"]
    assert mp4_seconds(data) == pytest.approx(seconds)


async def test_flux_fill_answers_the_input_size_and_checks_the_mask(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    mask = fal_sim.store_file(png(80, 48, (255, 255, 255)), "image/png", "mask.png")
    endpoint, arguments, output = await run(
        fal_sim,
        fal_gateway,
        "flux-fill",
        {"prompt": "a hat", "mask_url": mask},
        images=[png(80, 48)],
    )
    assert endpoint == "fal-ai/flux-pro/v1/fill"
    assert arguments["mask_url"] == mask
    outputs, _ = parse_output(JobKind.FILL, output)
    assert (outputs[0].width, outputs[0].height) == (80, 48)

    wrong = fal_sim.store_file(png(40, 40), "image/png", "small-mask.png")
    with pytest.raises(BotError) as caught:
        await run(
            fal_sim,
            fal_gateway,
            "flux-fill",
            {"prompt": "x", "mask_url": wrong},
            images=[png(80, 48)],
        )
    assert caught.value.code is ErrorCode.PROVIDER_REJECTED


async def test_an_animate_without_its_image_is_fals_422(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    endpoint = "fal-ai/wan-25-preview/image-to-video"
    request_id = await fal_gateway.submit(endpoint, {"prompt": "x", "duration": "5"})
    with pytest.raises(BotError) as caught:
        await follow(fal_gateway, fal_sim, endpoint, request_id)
        await fal_gateway.result(endpoint, request_id)
    assert caught.value.code is ErrorCode.PROVIDER_REJECTED


async def test_flux_vary_answers_images_the_inputs_size_at_its_strength(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    options = {"prompt": "a fox", "strength": 0.6, "count": 2, "seed": 5}
    endpoint, _arguments, output = await run(
        fal_sim, fal_gateway, "flux-vary", options, images=[png(96, 64)]
    )
    assert endpoint == "fal-ai/flux/dev/image-to-image"
    assert fal_sim.submits[-1][1]["strength"] == 0.6
    outputs, seed = parse_output(JobKind.VARY, output)
    assert [(o.width, o.height) for o in outputs] == [(96, 64), (96, 64)]
    assert seed == 5
    spec = build_catalog().get("flux-vary")
    assert spec.pricing.actual(spec.validate(options, image_count=1), outputs) == Decimal("0.05")


async def test_a_vary_at_a_strength_fal_refuses_is_its_422(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    url = fal_sim.store_file(png(64, 64), "image/png", "in.png")
    arguments = {"prompt": "a fox", "strength": 1.5, "image_url": url}
    request_id = await fal_gateway.submit("fal-ai/flux/dev/image-to-image", arguments)
    await follow(fal_gateway, fal_sim, "fal-ai/flux/dev/image-to-image", request_id)
    with pytest.raises(BotError) as caught:
        await fal_gateway.result("fal-ai/flux/dev/image-to-image", request_id)
    assert caught.value.code is ErrorCode.PROVIDER_REJECTED


async def test_the_pricing_api_serves_each_verb_models_price(fal_sim: FalSimulator) -> None:
    verbs = {
        "fal-ai/clarity-upscaler": (Decimal("0.03"), "megapixels"),
        "fal-ai/bria/expand": (Decimal("0.04"), "images"),
        "fal-ai/flux-pro/kontext/multi": (Decimal("0.04"), "images"),
        "fal-ai/wan-25-preview/image-to-video": (Decimal("0.05"), "seconds"),
        "fal-ai/flux-pro/v1/fill": (Decimal("0.05"), "megapixels"),
        "fal-ai/flux/dev/image-to-image": (Decimal("0.025"), "megapixels"),
    }
    got = await fetch_prices(
        key=SIM_KEY, endpoint_ids=list(verbs), api_url=fal_sim.api_url, within=5.0
    )
    assert got.ok, got.problem
    assert {q.endpoint_id: (q.unit_price, q.unit) for q in got.quotes} == verbs


async def test_describe_answers_four_prompts_about_the_image_it_was_given(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    endpoint, arguments, output = await run(
        fal_sim, fal_gateway, "describe", {}, images=[png(72, 40)]
    )
    assert endpoint == "openrouter/router/vision"
    assert arguments["model"] == "google/gemini-2.5-flash"
    assert set(output) == {"output", "usage"}
    assert output["usage"]["prompt_tokens"] > 0 and output["usage"]["cost"] > 0
    outputs, seed = parse_output(JobKind.DESCRIBE, output)
    assert seed is None
    assert [o.content_type for o in outputs] == ["text/plain"] * 4
    assert all(o.text and "72x40 scene" in o.text for o in outputs)


async def test_describe_without_an_image_is_fals_422(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    spec = build_catalog().get("describe")
    request_id = await fal_gateway.submit(spec.endpoint, spec.arguments({}, []))
    await follow(fal_gateway, fal_sim, spec.endpoint, request_id)
    with pytest.raises(BotError) as caught:
        await fal_gateway.result(spec.endpoint, request_id)
    assert caught.value.code is ErrorCode.PROVIDER_REJECTED


def test_an_answer_without_prompts_is_fals_failure() -> None:
    with pytest.raises(BotError) as caught:
        parse_output(JobKind.DESCRIBE, {"output": "\n\nok\n", "usage": {}})
    assert caught.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    with pytest.raises(BotError):
        parse_output(JobKind.DESCRIBE, {"usage": {}})


async def test_the_pricing_api_serves_describe_by_tokens(fal_sim: FalSimulator) -> None:
    got = await fetch_prices(
        key=SIM_KEY, endpoint_ids=["openrouter/router/vision"], api_url=fal_sim.api_url
    )
    assert got.ok, got.problem
    (quote,) = got.quotes
    assert (quote.unit_price, quote.unit) == (Decimal("0.3"), "1m tokens")
