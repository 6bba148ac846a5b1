"""Price rules billed the way fal's model pages say fal bills (issue 10 item 7)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.engine import Engine
from core.jobs import Output
from core.media import validate_image
from core.model_table import build_catalog
from core.pricing import PerMegapixel, TokenBilled, megapixels
from core.render import render_jobs
from tests.fakes.asking import Ask, submit
from tests.fakes.fal import FakeFal, png_bytes
from tests.fakes.reply import RecordingReply
from tests.unit.core.conftest import ALICE

pytestmark = pytest.mark.usefixtures("ticking")

D = Decimal


def image(width: int, height: int) -> Output:
    return Output(url="https://cdn/x.png", content_type="image/png", width=width, height=height)


# -- FLUX: "Images are billed by rounding up to the nearest megapixel." ------------------------


@pytest.mark.parametrize(
    ("width", "height", "billed"),
    [
        (1024, 1024, 1),  # fal's $0.025 for it on FLUX dev: 1024² is one megapixel
        (1024, 576, 1),  # 16:9: 0.5625 MP, billed as one
        (576, 1024, 1),
        (1344, 576, 1),  # 21:9
        (1536, 1024, 2),  # 1.5 MP
        (1025, 1024, 2),  # a pixel over is the next megapixel
        (2048, 2048, 4),
        (8, 8, 1),
    ],
)
def test_each_image_is_rounded_up_to_whole_megapixels(width: int, height: int, billed: int) -> None:
    assert megapixels(width, height) == billed


def test_flux_dev_bills_a_16_9_image_a_full_megapixel() -> None:
    pricing = build_catalog().get("flux-dev").pricing
    assert isinstance(pricing, PerMegapixel)
    assert pricing.estimate({"aspect_ratio": "16:9", "num_images": 1}) == D("0.025")
    assert pricing.actual({"aspect_ratio": "16:9"}, (image(1024, 576),)) == D("0.025")
    assert pricing.actual({}, (image(1024, 1024), image(1536, 1024))) == D("0.075")
    assert pricing.estimate({"aspect_ratio": "21:9", "num_images": 4}) == D("0.1")


def test_flux_schnell_bills_whole_megapixels_too() -> None:
    pricing = build_catalog().get("flux-schnell").pricing
    assert pricing.estimate({"aspect_ratio": "9:16", "num_images": 2}) == D("0.006")


# -- gpt-image-edit: per image, plus text, image and reasoning tokens --------------------------


def gpt() -> TokenBilled:
    pricing = build_catalog().get("gpt-image-edit").pricing
    assert isinstance(pricing, TokenBilled)
    return pricing


def test_a_low_quality_edit_of_one_image_costs_about_0_033_not_0_009() -> None:
    params = (
        build_catalog()
        .get("gpt-image-edit")
        .validate({"prompt": "make the sky purple", "quality": "low"}, image_count=1)
    )
    assert params["input_fidelity"] == "high"  # sent explicitly: fal's default, and ours
    # $0.009 per image + 3,050 image tokens × $0.008/1k + 16 prompt tokens ($0.005/1k in,
    # $0.010/1k reasoning out): 0.009 + 0.0244 + 0.00008 + 0.00016
    assert gpt().estimate(params, input_images=1) == D("0.03364")
    low = {**params, "input_fidelity": "low"}  # 135 tokens: $0.00108
    assert gpt().estimate(low, input_images=1) == D("0.01032")


def test_every_input_image_and_every_word_adds_tokens() -> None:
    base = {"prompt": "x", "quality": "medium", "aspect_ratio": "1:1", "num_images": 1}
    one = gpt().estimate({**base, "input_fidelity": "high"}, input_images=1)
    four = gpt().estimate({**base, "input_fidelity": "high"}, input_images=4)
    assert four - one == 3 * D("0.0244")
    long_prompt = {**base, "prompt": " ".join(["word"] * 100), "input_fidelity": "high"}
    # 400 tokens in at $0.005/1k and as many reasoning out at $0.010/1k
    assert gpt().estimate(long_prompt, input_images=1) - one == D("0.006") - D("0.00006")


def test_the_charge_matches_the_estimate_for_what_was_made() -> None:
    params = {
        "prompt": "add a hat",
        "quality": "high",
        "aspect_ratio": "3:2",
        "num_images": 2,
        "input_fidelity": "high",
        "image_urls": ["https://fal.media/a.png", "https://fal.media/b.png"],
    }
    estimate = gpt().estimate(params, input_images=2)
    assert estimate == D("0.4") + 2 * D("0.0244") + D("0.00018")
    assert gpt().actual(params, (image(1536, 1024), image(1536, 1024))) == estimate
    # one image withheld or lost: the tokens were still spent, one image fewer is billed
    assert gpt().actual(params, (image(1536, 1024),)) == estimate - D("0.2")
    assert gpt().actual(params, ()) == 0  # nothing came back: fal bills nothing


def test_the_price_text_says_the_tokens_are_an_estimate() -> None:
    text = build_catalog().get("gpt-image-edit").price_text
    assert text == "$0.009–$0.20 per image, plus about $0.0244 per input image"
    assert gpt().estimated and not build_catalog().get("flux-dev").pricing.estimated


def test_fidelity_is_an_option_of_the_gpt_edit_only() -> None:
    catalog = build_catalog()
    params = catalog.get("gpt-image-edit").validate(
        {"prompt": "x", "fidelity": "low"}, image_count=1
    )
    arguments = catalog.get("gpt-image-edit").arguments(params, ["https://fal.media/a.png"])
    assert arguments["input_fidelity"] == "low"
    with pytest.raises(Exception, match="`--fidelity` must be low"):  # named as users type it
        catalog.get("gpt-image-edit").validate({"prompt": "x", "fidelity": "max"}, image_count=1)
    with pytest.raises(Exception, match="no option"):
        catalog.get("nano-banana-edit").validate({"prompt": "x", "fidelity": "low"}, image_count=1)


async def test_a_gpt_edit_is_admitted_and_charged_with_its_tokens_and_says_about(
    engine: Engine, fal: FakeFal
) -> None:
    photo = validate_image(png_bytes(64, 48), max_bytes=10**7)
    job_request = Ask(
        ALICE, "gpt-image-edit", {"prompt": "make it blue", "quality": "low"}, (photo,)
    )
    reply = RecordingReply()
    job = await submit(engine, job_request, reply)
    # $0.009 + 3,050 × $0.008/1k + 12 words' tokens: 0.009 + 0.0244 + 0.00006 + 0.00012
    assert job.estimate_usd == D("0.03358")
    await reply.wait()
    (endpoint, arguments), *_ = fal.submits
    assert endpoint == "fal-ai/gpt-image-1.5/edit"
    assert arguments["input_fidelity"] == "high"
    assert reply.delivery is not None
    assert reply.delivery.result.cost_usd == D("0.03358")
    assert "gpt-image-edit · about $0.0336 ·" in reply.delivery.footer()
    stored = await engine.store.get_job(job.id)
    assert stored is not None and stored.result is not None
    assert stored.result.cost_estimated
    assert "about $0.0336" in render_jobs([stored])
