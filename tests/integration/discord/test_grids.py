"""A grid (count > 1): one Upscale (U1…) and one Edit (E1…) button per image, acting on that
image only, and still working after a restart (the image is in the button's custom_id)."""

from __future__ import annotations

from tests.fakes.discord import Issued, Person
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import Env


async def _grid(env: Env, count: int = 3) -> Issued:
    options = [
        p.option("prompt", p.STRING, "three foxes"),
        p.option("model", p.STRING, "flux-dev"),
        p.option("count", p.INTEGER, count),
    ]
    issued = await env.slash(env.alice, "imagine", options=options)
    await env.final_edit(issued)
    return issued


async def _click(env: Env, person: Person, issued: Issued, label: str) -> Issued:
    message = env.fake.original(issued)
    payload = env.fake.click(person, message, env.fake.button_ids(message)[label])
    return await env.fake.send_interaction(payload)


def _output_urls(env: Env) -> list[str]:
    request = next(iter(env.sim.requests.values()))
    return [image["url"] for image in request.output["images"]]  # type: ignore[index]


async def test_a_grid_has_a_button_per_image_in_rows(env: Env) -> None:
    await env.start_bot()
    issued = await _grid(env)

    message = env.fake.original(issued)
    rows = [[c["label"] for c in row["components"]] for row in message["components"]]
    assert rows == [
        ["U1", "U2", "U3"],
        ["E1", "E2", "E3"],
        ["1", "2", "3"],  # 🖌️1…: Edit region of that image
        ["Rerun", "Variations", "Delete"],
    ]
    ids = env.fake.button_ids(message)
    assert ids["U2"].endswith(":2") and ids["E3"].endswith(":3")


async def test_upscale_and_edit_take_the_picked_image_only_even_after_a_restart(
    env: Env,
) -> None:
    bot = await env.start_bot()
    issued = await _grid(env)
    urls = _output_urls(env)
    assert len(set(urls)) == 3
    await env.stop_bot(bot)
    await env.start_bot()

    upscale = await _click(env, env.alice, issued, "U2")
    await env.final_edit(upscale)
    endpoint, arguments = env.sim.submits[1]
    assert endpoint == "fal-ai/esrgan"
    assert arguments["image_url"] == urls[1]

    edit = await _click(env, env.alice, issued, "E3")
    modal = (await env.callback(edit)).json
    assert modal["type"] == 9 and modal["data"]["title"] == "Edit image 3"
    text_inputs = [
        c
        for row in modal["data"]["components"]
        for c in (row.get("components") or [row.get("component")])
    ]
    submit = await env.fake.send_interaction(
        env.fake.modal_submit(env.alice, edit, {text_inputs[0]["custom_id"]: "make it snow"})
    )
    await env.final_edit(submit)
    endpoint, arguments = env.sim.submits[2]
    assert endpoint == "fal-ai/nano-banana/edit"
    assert arguments["image_urls"] == [urls[2]]  # the picked image, not all three
