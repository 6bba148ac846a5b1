"""Outputs fal flags as NSFW are never worked on where they would not be shown: no buttons on a
withheld output; Upscale, Edit, Rerun, a mention on the result, or Edit image on it, refused once
the workspace withholds them; and whatever is made from a flagged output is flagged too.
Through discord.py against the fake Discord and the fal simulator (a prompt holding `nsfw` is
flagged)."""

from __future__ import annotations

from typing import Any

from core.jobs import Actor
from tests.fakes.discord import Issued, Person, Recorded
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import EPHEMERAL, Env


async def _nsfw(env: Env, mode: str) -> None:
    sub = p.subcommand("nsfw", [p.option("mode", p.STRING, mode)])
    answer = await env.callback(await env.slash(env.mod, "admin", options=[sub]))
    assert answer.json["type"] == 4, answer.json


async def _imagine(env: Env, prompt: str, *, count: int = 1) -> tuple[Issued, Recorded]:
    options = [p.option("prompt", p.STRING, prompt), p.option("model", p.STRING, "flux-dev")]
    if count > 1:
        options.append(p.option("count", p.INTEGER, count))
    issued = await env.slash(env.alice, "imagine", options=options)
    return issued, await env.final_edit(issued)


async def _click(env: Env, person: Person, issued: Issued, label: str) -> Issued:
    message = env.fake.original(issued)
    payload = env.fake.click(person, message, env.fake.button_ids(message)[label])
    return await env.fake.send_interaction(payload)


def _refused(answer: Recorded) -> str:
    assert answer.json["type"] == 4, answer.json
    assert answer.json["data"]["flags"] & EPHEMERAL
    return str(answer.json["data"]["content"])


async def _jobs(env: Env) -> list[Any]:
    actor = Actor("discord", env.fake.guild_id, env.alice.id)
    return await env.bots[0].app.engine.jobs(actor, limit=20)


async def test_a_withheld_output_gets_no_buttons_but_delete(env: Env) -> None:
    await env.start_bot()
    issued, result = await _imagine(env, "an nsfw cat")
    assert result.files == []
    assert set(env.fake.button_ids(env.fake.original(issued))) == {"Delete"}


async def test_a_withheld_grid_offers_nothing_to_work_on(env: Env) -> None:
    await env.start_bot()
    issued, result = await _imagine(env, "an nsfw cat", count=3)
    assert result.files == []
    assert set(env.fake.button_ids(env.fake.original(issued))) == {"Delete"}


async def test_upscale_of_a_spoilered_output_stays_spoilered(env: Env) -> None:
    await env.start_bot()
    await _nsfw(env, "spoiler")
    first, _ = await _imagine(env, "an nsfw cat")

    upscale = await _click(env, env.alice, first, "Upscale (Subtle)")
    upscaled = await env.final_edit(upscale)

    assert env.sim.submits[1][0] == "fal-ai/esrgan"  # esrgan flags nothing itself
    (file,) = upscaled.files
    assert file.filename.startswith("SPOILER_")


async def test_buttons_on_a_flagged_output_are_refused_once_the_workspace_withholds(
    env: Env,
) -> None:
    await env.start_bot()
    await _nsfw(env, "spoiler")
    first, shown = await _imagine(env, "an nsfw cat")
    assert shown.files[0].filename.startswith("SPOILER_")
    await _nsfw(env, "withhold")
    jobs_before = len(await _jobs(env))

    # (Rerun takes no output: it asks fal again, and its new outputs are screened as usual.)
    for label in ("Upscale (Subtle)", "Edit"):
        answer = _refused(await env.callback(await _click(env, env.alice, first, label)))
        assert "withheld" in answer and "NSFW" in answer, (label, answer)

    assert len(env.sim.submits) == 1
    assert len(await _jobs(env)) == jobs_before


async def test_a_mention_on_a_flagged_result_is_refused_once_withheld(env: Env) -> None:
    await env.start_bot()
    await _nsfw(env, "spoiler")
    first, _ = await _imagine(env, "an nsfw cat")
    await _nsfw(env, "withhold")

    mention = await env.fake.post_message(
        env.alice, "make it bigger", mention_bot=True, reply_to=env.fake.original(first)
    )

    answer = await env.fake.wait_for(
        lambda r: (
            r.route
            in ("POST /channels/{channel}/messages", "PATCH /channels/{channel}/messages/{message}")
            and "withheld" in str((r.json or {}).get("content"))
        )
    )
    assert "NSFW" in answer.json["content"]
    assert mention["id"]
    assert len(env.sim.submits) == 1


async def test_a_mention_on_a_spoilered_result_makes_a_spoilered_result(env: Env) -> None:
    await env.start_bot()
    await _nsfw(env, "spoiler")
    first, _ = await _imagine(env, "an nsfw cat")

    await env.fake.post_message(
        env.alice, "upscale", mention_bot=True, reply_to=env.fake.original(first)
    )

    final = await env.fake.wait_for(
        lambda r: (
            r.route == "PATCH /channels/{channel}/messages/{message}"
            and bool((r.json or {}).get("components"))
        ),
        timeout=10,
    )
    assert env.sim.submits[1][0] == "fal-ai/esrgan"
    (file,) = final.files
    assert file.filename.startswith("SPOILER_")


async def test_edit_image_on_a_flagged_result_is_refused_once_withheld(env: Env) -> None:
    await env.start_bot()
    await _nsfw(env, "allow")  # shown plainly: only the job remembers it was flagged
    first, shown = await _imagine(env, "an nsfw cat")
    assert not shown.files[0].filename.startswith("SPOILER_")
    await _nsfw(env, "withhold")

    menu = await env.fake.send_interaction(
        env.fake.message_command(env.bob, "Edit image", env.fake.original(first))
    )

    answer = _refused(await env.callback(menu))  # no modal at all
    assert "withheld" in answer
    assert len(env.sim.submits) == 1


async def test_edit_command_with_a_flagged_result_file_is_refused_once_withheld(
    env: Env,
) -> None:
    await env.start_bot()
    await _nsfw(env, "spoiler")
    _, shown = await _imagine(env, "an nsfw cat")
    await _nsfw(env, "withhold")
    # The user saves the spoilered result and attaches it to /edit: the name says what it is.
    flagged = shown.files[0]
    attachment = env.fake.host_file(flagged.filename, flagged.data, "image/png")

    issued = await env.slash(
        env.alice,
        "edit",
        options=[
            p.option("prompt", p.STRING, "add a hat"),
            p.option("image", p.ATTACHMENT_OPTION, attachment["id"]),
        ],
        attachments=[attachment],
    )

    assert "withheld" in _refused(await env.callback(issued))
    assert len(env.sim.submits) == 1


async def test_a_result_shown_in_an_nsfw_channel_can_be_worked_on_there(env: Env) -> None:
    env.fake.channels[env.fake.channel_id]["nsfw"] = True  # age-restricted
    await env.start_bot()
    first, shown = await _imagine(env, "an nsfw cat")  # withhold, but the channel is NSFW
    assert len(shown.files) == 1

    upscale = await _click(env, env.alice, first, "Upscale (Subtle)")
    upscaled = await env.final_edit(upscale)
    assert len(upscaled.files) == 1
    assert env.sim.submits[1][0] == "fal-ai/esrgan"
