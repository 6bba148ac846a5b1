"""The image verbs under a result on Discord (issue 14), through discord.py against the fake
Discord and fal-client against the simulator: each button reaches its endpoint with the parent's
output and the right canvas, and the result is posted as a child (its cost, seed and a link to
the parent's message); refusals are private, clear and take nothing; the buttons work after a
restart and on someone else's result as `core.verbs.PUBLIC` says."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from core.jobs import Actor, Job
from core.nsfw import NsfwMode
from core.quota import BucketLimits, QuotaScope
from tests.fakes.discord import Issued, Person, Recorded
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import EPHEMERAL, Bot, Env

# label of the button → (endpoint, what fal is sent besides the parent's image)
VERBS: dict[str, tuple[str, dict[str, Any]]] = {
    "Vary (Subtle)": ("fal-ai/flux/dev/image-to-image", {"strength": 0.6, "num_images": 4}),
    "Vary (Strong)": ("fal-ai/flux/dev/image-to-image", {"strength": 0.9, "num_images": 4}),
    "Upscale (Subtle)": ("fal-ai/esrgan", {"scale": 2}),
    "Upscale (Creative)": ("fal-ai/clarity-upscaler", {"upscale_factor": 2, "prompt": "a fox"}),
    "Zoom Out 2×": (
        "fal-ai/bria/expand",
        {
            "canvas_size": [2048, 2048],
            "original_image_size": [1024, 1024],
            "original_image_location": [512, 512],
        },
    ),
    "Zoom Out 1.5×": (
        "fal-ai/bria/expand",
        {"canvas_size": [1536, 1536], "original_image_location": [256, 256]},
    ),
    "⬅️": ("fal-ai/bria/expand", {"canvas_size": [1536, 1024], "original_image_location": [512, 0]}),
    "➡️": ("fal-ai/bria/expand", {"canvas_size": [1536, 1024], "original_image_location": [0, 0]}),
    "⬆️": ("fal-ai/bria/expand", {"canvas_size": [1024, 1536], "original_image_location": [0, 512]}),
    "⬇️": ("fal-ai/bria/expand", {"canvas_size": [1024, 1536], "original_image_location": [0, 0]}),
    "Animate": ("fal-ai/wan-25-preview/image-to-video", {"prompt": "a fox", "duration": "5"}),
}


async def _imagine(env: Env, person: Person, prompt: str = "a fox") -> Issued:
    options = [p.option("prompt", p.STRING, prompt), p.option("model", p.STRING, "flux-dev")]
    issued = await env.slash(person, "imagine", options=options)
    await env.final_edit(issued)
    return issued


async def _click(env: Env, person: Person, issued: Issued, label: str) -> Issued:
    message = env.fake.original(issued)
    payload = env.fake.click(person, message, env.fake.button_ids(message)[label])
    return await env.fake.send_interaction(payload)


def _refused(answer: Recorded) -> str:
    assert answer.json["type"] == 4, answer.json
    assert answer.json["data"]["flags"] & EPHEMERAL
    return str(answer.json["data"]["content"])


def _actor(env: Env, person: Person) -> Actor:
    return Actor("discord", env.fake.guild_id, person.id)


async def _jobs(bot: Bot, env: Env, person: Person) -> list[Job]:
    return await bot.app.engine.jobs(_actor(env, person), limit=20)


async def _level(bot: Bot, env: Env, person: Person) -> Decimal:
    return (await bot.app.engine.quota(_actor(env, person))).level


async def test_a_single_image_has_every_verb_in_five_rows(env: Env) -> None:
    await env.start_bot()
    issued = await _imagine(env, env.alice)
    rows = [
        [c.get("label") or c["emoji"]["name"] for c in row["components"]]
        for row in env.fake.original(issued)["components"]
    ]
    assert rows == [
        ["Vary (Subtle)", "Vary (Strong)", "Rerun"],
        ["Upscale (Subtle)", "Upscale (Creative)", "Animate"],
        ["Zoom Out 2×", "Zoom Out 1.5×", "Edit", "Edit region"],
        ["⬅️", "➡️", "⬆️", "⬇️"],
        ["Delete"],
    ]


@pytest.mark.parametrize("label", list(VERBS))
async def test_each_verb_runs_on_the_parents_image_and_posts_a_child(env: Env, label: str) -> None:
    bot = await env.start_bot()
    parent = await _imagine(env, env.alice)
    (parent_job,) = await _jobs(bot, env, env.alice)
    assert parent_job.result is not None
    parent_url = parent_job.result.outputs[0].url

    child = await _click(env, env.alice, parent, label)
    final = await env.final_edit(child, timeout=20)

    endpoint, arguments = env.sim.submits[-1]
    want_endpoint, want = VERBS[label]
    assert endpoint == want_endpoint
    assert arguments["image_url"] == parent_url
    assert {k: arguments[k] for k in want} == want
    job = next(j for j in await _jobs(bot, env, env.alice) if j.id != parent_job.id)
    assert job.parent_job_id == parent_job.id and job.result is not None
    footer = final.json["content"].rsplit("\n", 1)[-1]
    message_url = (
        f"https://discord.com/channels/{env.fake.guild_id}/"
        f"{env.fake.original(parent)['channel_id']}/{parent.original_id}"
    )
    assert f"from [job {parent_job.short_id}](<{message_url}>)" in footer
    assert job.result.cost_text in footer and f"seed {job.result.seed}" in footer
    assert final.files  # the child's own output, posted


async def test_a_grid_images_menu_runs_a_verb_on_that_image(env: Env) -> None:
    bot = await env.start_bot()
    options = [p.option("prompt", p.STRING, "foxes"), p.option("count", p.INTEGER, 2)]
    grid = await env.slash(env.alice, "imagine", options=options)
    await env.final_edit(grid)
    (parent_job,) = await _jobs(bot, env, env.alice)
    assert parent_job.result is not None
    message = env.fake.original(grid)
    menu = env.fake.button_ids(message)["Image 2: vary, upscale, zoom, pan, animate, edit…"]

    child = await env.fake.send_interaction(env.fake.choose(env.alice, message, menu, ["pan_up"]))
    await env.final_edit(child)

    endpoint, arguments = env.sim.submits[-1]
    assert endpoint == "fal-ai/bria/expand"
    assert arguments["image_url"] == parent_job.result.outputs[1].url


async def _deny(bot: Bot, env: Env) -> None:
    await bot.app.store.set_model_denied(env.fake.guild_id, "bria-expand", True)


async def _ban(bot: Bot, env: Env) -> None:
    await bot.app.store.set_banned(env.fake.guild_id, env.alice.id, True)


async def _broke(bot: Bot, env: Env) -> None:
    limits = BucketLimits(capacity=Decimal(1), refill_per_hour=Decimal("0.01"))
    await bot.app.store.set_quota(env.fake.guild_id, QuotaScope.USER, env.alice.id, limits)


@pytest.mark.parametrize(
    ("setup", "said"),
    [
        (_broke, "Out of credits"),
        (_ban, "You are not allowed to use falbot here"),
        (_deny, "Zoom Out 2× runs on bria-expand, which is not allowed in this workspace."),
    ],
)
async def test_a_verb_is_refused_privately_and_takes_nothing(
    env: Env, setup: Any, said: str
) -> None:
    bot = await env.start_bot()
    parent = await _imagine(env, env.alice)
    await setup(bot, env)
    submits, level = len(env.sim.submits), await _level(bot, env, env.alice)

    text = _refused(await env.callback(await _click(env, env.alice, parent, "Zoom Out 2×")))

    assert said in text
    assert len(env.sim.submits) == submits and len(await _jobs(bot, env, env.alice)) == 1
    assert await _level(bot, env, env.alice) >= level  # only refilled since


async def test_a_verb_on_a_withheld_output_is_refused_and_takes_nothing(env: Env) -> None:
    bot = await env.start_bot()
    await bot.app.store.set_nsfw(env.fake.guild_id, NsfwMode.SPOILER)
    parent = await _imagine(env, env.alice, "an nsfw fox")  # spoilered: the buttons are there
    await bot.app.store.set_nsfw(env.fake.guild_id, NsfwMode.WITHHOLD)
    submits, level = len(env.sim.submits), await _level(bot, env, env.alice)

    text = _refused(await env.callback(await _click(env, env.alice, parent, "Vary (Strong)")))

    assert "withheld" in text
    assert len(env.sim.submits) == submits
    assert await _level(bot, env, env.alice) >= level  # only refilled since


async def test_a_verb_button_works_after_a_restart(env: Env) -> None:
    bot = await env.start_bot()
    parent = await _imagine(env, env.alice)
    await env.stop_bot(bot)
    bot = await env.start_bot()

    await env.final_edit(await _click(env, env.alice, parent, "Upscale (Creative)"))
    assert env.sim.submits[-1][0] == "fal-ai/clarity-upscaler"


async def test_on_someone_elses_result_the_verbs_are_public_the_rest_is_not(env: Env) -> None:
    """The image verbs are public by design: they work on a picture the whole channel sees, and
    the job is the presser's own (their quota, ban, models, credits). Rerun and Edit replay or
    continue the requester's own request; Delete removes their message (or an admin does)."""
    bot = await env.start_bot()
    parent = await _imagine(env, env.alice)
    bob_level = await _level(bot, env, env.bob)

    await env.final_edit(await _click(env, env.bob, parent, "Vary (Subtle)"))
    (bobs,) = await _jobs(bot, env, env.bob)
    assert bobs.parent_job_id is not None and bobs.user_id == env.bob.id
    assert await _level(bot, env, env.bob) < bob_level  # charged to Bob, not Alice

    for label in ("Rerun", "Edit", "Delete"):
        text = _refused(await env.callback(await _click(env, env.bob, parent, label)))
        assert "Only the person who asked for this result, or an admin" in text
    deleted = await _click(env, env.mod, parent, "Delete")
    assert (await env.callback(deleted)).json["type"] == 6


async def test_a_menu_choice_it_never_offered_is_refused_as_a_broken_button(env: Env) -> None:
    await env.start_bot()
    options = [p.option("prompt", p.STRING, "foxes"), p.option("count", p.INTEGER, 2)]
    grid = await env.slash(env.alice, "imagine", options=options)
    await env.final_edit(grid)
    message = env.fake.original(grid)
    menu = env.fake.button_ids(message)["Image 1: vary, upscale, zoom, pan, animate, edit…"]
    payload = env.fake.choose(env.alice, message, menu, ["zoom_2"])
    payload["data"]["values"] = ["explode"]  # a forged choice

    text = _refused(await env.callback(await env.fake.send_interaction(payload)))

    assert "That button is broken." in text and len(env.sim.submits) == 1


async def test_remix_mode_asks_the_prompt_before_a_zoom_and_keeps_the_canvas(env: Env) -> None:
    """Remix mode: Vary, Zoom and Pan (and Rerun) first open the prompt; the zoom keeps its
    canvas and placement, and fal gets the changed prompt. Bob remixes Alice's result: the
    verb is anyone's, the modal too."""
    bot = await env.start_bot()
    parent = await _imagine(env, env.alice, "a red kite")
    await bot.app.engine.preferences.change(_actor(env, env.bob), {"remix": True})

    pressed = await _click(env, env.bob, parent, "Zoom Out 2×")
    modal = (await env.callback(pressed)).json
    assert modal["type"] == 9 and modal["data"]["title"] == "Remix: Zoom Out 2×"
    box = modal["data"]["components"][0]
    field = box.get("component") or box["components"][0]
    assert field["value"] == "a red kite" and len(env.sim.submits) == 1

    filled = {field["custom_id"]: "a red kite over the sea"}
    await env.final_edit(
        await env.fake.send_interaction(env.fake.modal_submit(env.bob, pressed, filled))
    )
    endpoint, arguments = env.sim.submits[-1]
    assert endpoint == "fal-ai/bria/expand"
    assert arguments["prompt"] == "a red kite over the sea"
    assert arguments["canvas_size"] == [2048, 2048]


async def test_a_verb_above_the_threshold_is_quoted_and_its_confirm_keeps_the_parent(
    env: Env,
) -> None:
    """Animate ($0.50) above the workspace's $0.20: its quote first, nothing taken; Confirm
    (pressed on the quote, not the result) starts the child, whose footer still links the
    result it was made from."""
    bot = await env.start_bot(settings={"FALBOT_CONFIRM_ABOVE_USD": Decimal("0.20")})
    parent = await _imagine(env, env.alice)
    (parent_job,) = await _jobs(bot, env, env.alice)

    pressed = await _click(env, env.alice, parent, "Animate")
    quote = (await env.callback(pressed)).json["data"]
    assert (
        quote["flags"] & EPHEMERAL
        and "**wan-2.5-animate** will cost about **$0.50**" in (quote["content"])
    )
    assert len(env.sim.submits) == 1

    message = env.fake.original(pressed)
    confirm_id = next(c for n, c in env.fake.button_ids(message).items() if n.startswith("Confirm"))
    confirm = await env.fake.send_interaction(env.fake.click(env.alice, message, confirm_id))
    final = await env.final_edit(confirm, timeout=20)

    assert env.sim.submits[-1][0] == "fal-ai/wan-25-preview/image-to-video"
    assert env.sim.submits[-1][1]["image_url"] == parent_job.result.outputs[0].url  # type: ignore[union-attr]
    message_url = (
        f"https://discord.com/channels/{env.fake.guild_id}/"
        f"{env.fake.original(parent)['channel_id']}/{parent.original_id}"
    )
    assert f"from [job {parent_job.short_id}](<{message_url}>)" in final.json["content"]
