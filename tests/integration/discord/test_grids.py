"""A grid (count > 1): a menu of every verb per image, acting on that image only, and still
working after a restart (the image is in the menu's custom_id)."""

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


async def _choose(env: Env, person: Person, issued: Issued, image: int, value: str) -> Issued:
    message = env.fake.original(issued)
    menu = next(m for m in env.fake.button_ids(message).values() if m.endswith(f":{image}"))
    payload = env.fake.choose(person, message, menu, [value])
    return await env.fake.send_interaction(payload)


def _output_urls(env: Env) -> list[str]:
    request = next(iter(env.sim.requests.values()))
    return [image["url"] for image in request.output["images"]]  # type: ignore[index]


async def test_a_grid_has_a_menu_per_image_then_rerun_and_delete(env: Env) -> None:
    """Discord allows five rows of five buttons, and a select menu takes a row: twelve choices
    for each of four images cannot be buttons, so each image gets a menu of all of them."""
    await env.start_bot()
    issued = await _grid(env, count=4)

    message = env.fake.original(issued)
    rows = [
        [c.get("label") or c.get("placeholder") for c in row["components"]]
        for row in message["components"]
    ]
    assert rows == [
        *([f"Image {n}: vary, upscale, zoom, pan, animate, edit…"] for n in range(1, 5)),
        ["Rerun", "Delete"],
    ]
    menu = message["components"][1]["components"][0]
    assert menu["custom_id"].endswith(":2")
    assert [o["label"] for o in menu["options"]] == [
        "Vary (Subtle)",
        "Vary (Strong)",
        "Edit…",
        "Edit region…",
        "Upscale (Subtle)",
        "Upscale (Creative)",
        "Zoom Out 2×",
        "Zoom Out 1.5×",
        "⬅️ Pan",
        "➡️ Pan",
        "⬆️ Pan",
        "⬇️ Pan",
        "Animate",
    ]


async def test_upscale_and_edit_take_the_picked_image_only_even_after_a_restart(
    env: Env,
) -> None:
    bot = await env.start_bot()
    issued = await _grid(env)
    urls = _output_urls(env)
    assert len(set(urls)) == 3
    await env.stop_bot(bot)
    await env.start_bot()

    upscale = await _choose(env, env.alice, issued, 2, "upscale")
    await env.final_edit(upscale)
    endpoint, arguments = env.sim.submits[1]
    assert endpoint == "fal-ai/esrgan"
    assert arguments["image_url"] == urls[1]

    edit = await _choose(env, env.alice, issued, 3, "edit")
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
