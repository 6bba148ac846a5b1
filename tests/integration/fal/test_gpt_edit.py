"""GPT Image 1.5 edit at the simulator through fal-client: `input_fidelity` is taken as fal's
schema lists it (low or high), and another value is fal's 422 naming the field."""

from __future__ import annotations

import pytest

from adapters.fal.gateway import FalClientGateway
from adapters.fal.sim.outputs import InputError
from adapters.fal.sim.schemas import check_enums
from adapters.fal.simulator import FalSimulator
from core.errors import BotError, ErrorCode
from core.model_table import build_catalog
from tests.integration.fal.helpers import follow, png

GPT_EDIT = "fal-ai/gpt-image-1.5/edit"


async def _run(
    sim: FalSimulator, gateway: FalClientGateway, arguments: dict[str, object]
) -> dict[str, object]:
    request_id = await gateway.submit(GPT_EDIT, arguments)
    await follow(gateway, sim, GPT_EDIT, request_id)
    return await gateway.result(GPT_EDIT, request_id)


@pytest.mark.parametrize("fidelity", ["low", "high"])
async def test_the_arguments_falbot_sends_are_taken(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway, fidelity: str
) -> None:
    spec = build_catalog().get("gpt-image-edit")
    params = spec.validate({"prompt": "add a hat", "fidelity": fidelity}, image_count=1)
    url = fal_sim.store_file(png(64, 64), "image/png", "in.png")
    arguments = spec.arguments(params, [url])
    assert arguments["input_fidelity"] == fidelity
    output = await _run(fal_sim, fal_gateway, arguments)
    assert len(output["images"]) == 1  # type: ignore[arg-type]
    assert fal_sim.submits[-1][1]["input_fidelity"] == fidelity


async def test_an_input_fidelity_fal_does_not_know_is_a_422_naming_it(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    url = fal_sim.store_file(png(64, 64), "image/png", "in.png")
    arguments = {"prompt": "x", "image_urls": [url], "input_fidelity": "ultra"}
    with pytest.raises(BotError) as caught:
        await _run(fal_sim, fal_gateway, arguments)
    assert caught.value.code is ErrorCode.PROVIDER_REJECTED
    assert "`--fidelity`" in caught.value.message  # fal's input_fidelity, named as users type it


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"input_fidelity": "medium"}, "input_fidelity"),
        ({"quality": "auto"}, "quality"),
        ({"image_size": "square_hd"}, "image_size"),
    ],
)
def test_the_gpt_edit_enums_are_checked_as_fals_schema_lists_them(
    arguments: dict[str, object], field: str
) -> None:
    with pytest.raises(InputError) as caught:
        check_enums(GPT_EDIT, arguments)
    assert caught.value.fault.status == 422
    assert caught.value.fault.detail[0]["loc"] == ["body", field]
    check_enums("fal-ai/nano-banana/edit", arguments)  # other endpoints: not checked here
