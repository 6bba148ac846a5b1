"""/settings on Discord: an ephemeral panel of select menus; a changed default applies to the
person's next job and to nobody else's; reset puts the defaults back; the workspace's defaults
are for admins; remix mode opens a modal with the prompt before Rerun, and the changed prompt
is what fal gets."""

from __future__ import annotations

from typing import Any

from tests.fakes.discord import Issued, Person
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import EPHEMERAL, Env


async def _panel(env: Env, person: Person, **options: bool) -> dict[str, Any]:
    issued = await env.slash(
        person, "settings", options=[p.option(k, 5, v) for k, v in options.items()]
    )
    callback = await env.callback(issued)
    assert callback.json["type"] == 4, callback.json
    assert callback.json["data"]["flags"] & EPHEMERAL
    return env.fake.original(issued)


async def _choose(env: Env, person: Person, panel: dict[str, Any], menu: str, *values: str) -> str:
    """Answer one of the panel's menus; the panel's text as it is then."""
    custom_id = next(
        c["custom_id"]
        for row in panel["components"]
        for c in row["components"]
        if c["custom_id"].endswith(f":{menu}")
    )
    issued = await env.fake.send_interaction(env.fake.choose(person, panel, custom_id, values))
    callback = await env.callback(issued)
    assert callback.json["type"] == 7, callback.json  # the panel updated in place
    return str(env.fake.messages[panel["id"]]["content"])


async def _imagine(env: Env, person: Person, prompt: str) -> Issued:
    issued = await env.slash(person, "imagine", options=[p.option("prompt", p.STRING, prompt)])
    await env.final_edit(issued)
    return issued


async def test_a_changed_default_applies_to_the_next_job_and_nobody_elses(env: Env) -> None:
    await env.start_bot()
    panel = await _panel(env, env.alice)
    assert "Your settings" in panel["content"] and "flux-schnell" in panel["content"]
    menus = [c["custom_id"] for row in panel["components"] for c in row["components"]]
    assert menus[:4] == [
        f"falbot:set:me:{m}" for m in ("model", "aspect_ratio", "num_images", "modes")
    ]

    await _choose(env, env.alice, panel, "model", "flux-dev")
    text = await _choose(env, env.alice, panel, "aspect_ratio", "16:9")
    assert "`flux-dev` (yours)" in text and "16:9 (yours)" in text

    await _imagine(env, env.alice, "a harbour")
    await _imagine(env, env.bob, "a harbour")
    (alice_endpoint, alice_args), (bob_endpoint, bob_args) = env.sim.submits
    assert (alice_endpoint, alice_args["image_size"]) == ("fal-ai/flux/dev", "landscape_16_9")
    assert (bob_endpoint, bob_args["image_size"]) == ("fal-ai/flux/schnell", "square_hd")


async def test_what_a_person_types_wins_and_reset_puts_the_defaults_back(env: Env) -> None:
    await env.start_bot()
    panel = await _panel(env, env.alice)
    await _choose(env, env.alice, panel, "num_images", "3")
    issued = await env.slash(
        env.alice,
        "imagine",
        options=[p.option("prompt", p.STRING, "a pier"), p.option("count", p.INTEGER, 1)],
    )
    await env.final_edit(issued)
    assert env.sim.submits[0][1]["num_images"] == 1  # typed

    reset = await _panel(env, env.alice, reset=True)
    assert reset["content"].startswith("Your settings are reset.")
    assert "Count: 1 (falbot default)" in reset["content"]
    await _imagine(env, env.alice, "a pier")
    assert env.sim.submits[1][1]["num_images"] == 1


async def test_the_workspace_defaults_are_for_admins_and_fill_what_people_left_unset(
    env: Env,
) -> None:
    await env.start_bot()
    refused = await env.slash(env.alice, "settings", options=[p.option("workspace", 5, True)])
    answer = await env.callback(refused)
    assert answer.json["data"]["flags"] & EPHEMERAL
    assert "Only falbot admins" in answer.json["data"]["content"]

    panel = await _panel(env, env.mod, workspace=True)
    assert "This workspace's defaults" in panel["content"]
    await _choose(env, env.mod, panel, "aspect_ratio", "9:16")
    mine = await _panel(env, env.alice)
    await _choose(env, env.alice, mine, "aspect_ratio", "4:3")

    await _imagine(env, env.alice, "a lane")
    await _imagine(env, env.bob, "a lane")
    sizes = [args["image_size"] for _, args in env.sim.submits]
    assert sizes == ["landscape_4_3", "portrait_16_9"]


async def test_remix_mode_opens_the_prompt_before_rerun(env: Env) -> None:
    await env.start_bot()
    panel = await _panel(env, env.alice)
    text = await _choose(env, env.alice, panel, "modes", "remix")
    assert "Remix mode: on (yours)" in text
    first = await _imagine(env, env.alice, "a red kite over dunes")
    rerun = env.fake.button_ids(env.fake.original(first))["Rerun"]

    pressed = await env.fake.send_interaction(
        env.fake.click(env.alice, env.fake.original(first), rerun)
    )
    callback = await env.callback(pressed)
    assert callback.json["type"] == 9  # the modal, before any job
    box = callback.json["data"]["components"][0]
    field = box.get("component") or box["components"][0]
    assert field["value"] == "a red kite over dunes"
    assert len(env.sim.submits) == 1

    filled = {field["custom_id"]: "a blue kite over snow"}
    submit = await env.fake.send_interaction(env.fake.modal_submit(env.alice, pressed, filled))
    await env.final_edit(submit)
    endpoint, arguments = env.sim.submits[1]
    assert endpoint == "fal-ai/flux/schnell"
    assert arguments["prompt"] == "a blue kite over snow"


async def test_without_remix_rerun_starts_at_once(env: Env) -> None:
    await env.start_bot()
    first = await _imagine(env, env.bob, "a green kite")
    rerun = env.fake.button_ids(env.fake.original(first))["Rerun"]
    pressed = await env.fake.send_interaction(
        env.fake.click(env.bob, env.fake.original(first), rerun)
    )
    callback = await env.callback(pressed)
    assert callback.json["type"] == 5  # deferred: the job is on its way
    await env.final_edit(pressed)
    assert env.sim.submits[1][1]["prompt"] == "a green kite"


async def test_a_panel_opened_before_a_restart_still_works(env: Env) -> None:
    first = await env.start_bot()
    panel = await _panel(env, env.alice)
    await env.stop_bot(first)
    await env.start_bot()

    text = await _choose(env, env.alice, panel, "num_images", "2")
    assert "Count: 2 (yours)" in text
    await _imagine(env, env.alice, "a quay")
    assert env.sim.submits[0][1]["num_images"] == 2
