"""Editing images: the Edit image context menu, reply-with-mention, and /edit with an
attachment; refused attachments get a clear ephemeral answer and take no job or credit."""

from __future__ import annotations

import base64
from typing import Any

from core.jobs import Actor
from tests.fakes.discord import Issued, Person, Recorded
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import EPHEMERAL, ONE_IMAGE, Env, noisy_png, png


def _data_uri_bytes(uri: str) -> bytes:
    assert uri.startswith("data:image/png;base64,"), uri[:40]
    return base64.b64decode(uri.split(",", 1)[1])


def _modal_values(issued: Issued, **by_label: str) -> dict[str, str]:
    """Text input custom_id → value, found by the input's label (first word, lower case)."""
    values = {}
    for row in issued.modal["components"]:
        inputs = row.get("components") or [row.get("component")]
        for comp in inputs:
            key = (
                comp["label"].split()[0].lower()
                if "label" in comp
                else row["label"].split()[0].lower()
            )
            if key in by_label:
                values[comp["custom_id"]] = by_label[key]
    return values


async def _submit_modal(env: Env, person: Person, issued: Issued, **by_label: str) -> Issued:
    payload = env.fake.modal_submit(person, issued, _modal_values(issued, **by_label))
    return await env.fake.send_interaction(payload)


async def _jobs(env: Env, person: Person) -> list[Any]:
    actor = Actor("discord", env.fake.guild_id, person.id)
    return await env.bots[0].app.engine.jobs(actor, limit=10)


async def test_edit_image_context_menu_opens_a_modal_then_edits(env: Env) -> None:
    await env.start_bot()
    image = png(color="red")
    target = await env.fake.post_message(
        env.bob, "my cat", attachments=[env.fake.host_file("cat.png", image, "image/png")]
    )

    menu = await env.fake.send_interaction(
        env.fake.message_command(env.alice, "Edit image", target)
    )
    callback = await env.callback(menu)
    assert callback.json["type"] == 9
    assert callback.json["data"]["title"] == "Edit image"
    submit = await _submit_modal(env, env.alice, menu, what="make it blue")

    final = await env.final_edit(submit)
    endpoint, arguments = env.sim.submits[0]
    assert endpoint == "fal-ai/nano-banana/edit"
    assert arguments["prompt"] == "make it blue"
    assert [_data_uri_bytes(u) for u in arguments["image_urls"]] == [image]
    assert len(final.files) == 1 and "> make it blue" in final.json["content"]


async def test_context_menu_on_a_message_without_an_image_says_so(env: Env) -> None:
    await env.start_bot()
    target = await env.fake.post_message(env.bob, "just words")

    menu = await env.fake.send_interaction(
        env.fake.message_command(env.alice, "Edit image", target)
    )

    callback = await env.callback(menu)
    assert callback.json["type"] == 4
    assert callback.json["data"]["flags"] & EPHEMERAL
    assert "no image" in callback.json["data"]["content"]


async def test_reply_with_mention_edits_the_parent_image(env: Env) -> None:
    await env.start_bot(settings={"FALBOT_DISCORD_MESSAGE_CONTENT": True})
    image = png(color="green")
    parent = await env.fake.post_message(
        env.bob, "", attachments=[env.fake.host_file("tree.png", image, "image/png")]
    )

    mention = await env.fake.post_message(env.alice, "add snow", mention_bot=True, reply_to=parent)

    placeholder = await env.fake.wait_for(
        lambda r: (
            r.route == "POST /channels/{channel}/messages"
            and str((r.json.get("message_reference") or {}).get("message_id")) == mention["id"]
        )
    )
    final = await _final_channel_edit(env, placeholder)
    endpoint, arguments = env.sim.submits[0]
    assert endpoint == "fal-ai/nano-banana/edit"
    assert arguments["prompt"] == "add snow"
    assert [_data_uri_bytes(u) for u in arguments["image_urls"]] == [image]
    assert len(final.files) == 1


async def test_mention_with_its_own_image_works_without_the_intent(env: Env) -> None:
    await env.start_bot()
    image = png(color="purple")

    await env.fake.post_message(
        env.alice,
        "make it glow",
        mention_bot=True,
        attachments=[env.fake.host_file("me.png", image, "image/png")],
    )

    placeholder = await env.fake.wait_for(lambda r: r.route == "POST /channels/{channel}/messages")
    await _final_channel_edit(env, placeholder)
    assert [_data_uri_bytes(u) for u in env.sim.submits[0][1]["image_urls"]] == [image]


async def test_reply_to_a_hidden_image_without_the_intent_points_at_edit_image(env: Env) -> None:
    await env.start_bot()  # no message-content intent: Discord hides bob's attachment
    parent = await env.fake.post_message(
        env.bob, "", attachments=[env.fake.host_file("tree.png", png(), "image/png")]
    )

    await env.fake.post_message(env.alice, "add snow", mention_bot=True, reply_to=parent)

    answer = await env.fake.wait_for(lambda r: r.route == "POST /channels/{channel}/messages")
    assert "message-content intent" in answer.json["content"]
    assert "Edit image" in answer.json["content"]
    assert env.sim.submits == []
    assert await _jobs(env, env.alice) == []


async def test_edit_command_with_an_attachment(env: Env) -> None:
    await env.start_bot()
    image = png(color="yellow")
    attachment = env.fake.host_file("in.png", image, "image/png")

    issued = await env.slash(
        env.alice,
        "edit",
        options=[
            p.option("prompt", p.STRING, "add a hat"),
            p.option("image", p.ATTACHMENT_OPTION, attachment["id"]),
        ],
        attachments=[attachment],
    )

    callback = await env.callback(issued)
    assert callback.json["type"] == 5  # deferred before downloading the image
    final = await env.final_edit(issued)
    assert [_data_uri_bytes(u) for u in env.sim.submits[0][1]["image_urls"]] == [image]
    assert set(env.fake.button_ids(env.fake.original(issued))) == ONE_IMAGE
    assert len(final.files) == 1


async def test_a_non_image_attachment_is_refused_ephemerally_and_takes_nothing(env: Env) -> None:
    bot = await env.start_bot()
    before = await bot.app.engine.quota(Actor("discord", env.fake.guild_id, env.alice.id))
    attachment = env.fake.host_file("notes.txt", b"hello", "text/plain")

    issued = await env.slash(
        env.alice,
        "edit",
        options=[
            p.option("prompt", p.STRING, "x"),
            p.option("image", p.ATTACHMENT_OPTION, attachment["id"]),
        ],
        attachments=[attachment],
    )

    callback = await env.callback(issued)
    assert callback.json["type"] == 4 and callback.json["data"]["flags"] & EPHEMERAL
    assert "`notes.txt` is not an image" in callback.json["data"]["content"]
    await _nothing_taken(env, before)


async def test_an_oversized_attachment_is_refused_ephemerally(env: Env) -> None:
    bot = await env.start_bot(settings={"FALBOT_MAX_INPUT_BYTES": 4096})
    before = await bot.app.engine.quota(Actor("discord", env.fake.guild_id, env.alice.id))
    big = noisy_png(64, 64)
    assert len(big) > 4096
    attachment = env.fake.host_file("big.png", big, "image/png")

    issued = await env.slash(
        env.alice,
        "upscale",
        options=[p.option("image", p.ATTACHMENT_OPTION, attachment["id"])],
        attachments=[attachment],
    )

    callback = await env.callback(issued)
    assert callback.json["type"] == 4 and callback.json["data"]["flags"] & EPHEMERAL
    assert "the limit is" in callback.json["data"]["content"]
    await _nothing_taken(env, before)


async def test_a_file_that_only_claims_to_be_an_image_is_refused_after_download(
    env: Env,
) -> None:
    bot = await env.start_bot()
    before = await bot.app.engine.quota(Actor("discord", env.fake.guild_id, env.alice.id))
    attachment = env.fake.host_file("fake.png", b"<html>not an image</html>", "image/png")

    issued = await env.slash(
        env.alice,
        "edit",
        options=[
            p.option("prompt", p.STRING, "x"),
            p.option("image", p.ATTACHMENT_OPTION, attachment["id"]),
        ],
        attachments=[attachment],
    )

    followup = await env.fake.wait_for(
        lambda r: r.route == "POST /webhooks/{app}/{token}" and issued.token in r.path
    )
    assert followup.json["flags"] & EPHEMERAL
    assert "not an image I can read" in followup.json["content"]
    # the public "thinking…" placeholder is gone
    assert issued.original_id in env.fake.deleted
    await _nothing_taken(env, before)


async def _nothing_taken(env: Env, before: Any) -> None:
    bot = env.bots[0]
    assert env.sim.submits == []
    assert await _jobs(env, env.alice) == []
    after = await bot.app.engine.quota(Actor("discord", env.fake.guild_id, env.alice.id))
    assert after.level == before.level


async def _final_channel_edit(env: Env, placeholder: Recorded) -> Recorded:
    message_id = placeholder.answer["id"]
    return await env.fake.wait_for(
        lambda r: (
            r.route == "PATCH /channels/{channel}/messages/{message}"
            and r.path.endswith(message_id)
            and bool((r.json or {}).get("components"))
        ),
        timeout=10,
    )


async def test_reply_to_a_falbot_result_edits_it_without_the_intent(env: Env) -> None:
    await env.start_bot()
    issued = await env.slash(env.alice, "imagine", options=[p.option("prompt", p.STRING, "a")])
    result = await env.final_edit(issued)

    await env.fake.post_message(
        env.alice, "now at night", mention_bot=True, reply_to=env.fake.original(issued)
    )

    placeholder = await env.fake.wait_for(lambda r: r.route == "POST /channels/{channel}/messages")
    await _final_channel_edit(env, placeholder)
    endpoint, arguments = env.sim.submits[1]
    assert endpoint == "fal-ai/nano-banana/edit"
    assert arguments["prompt"] == "now at night"
    assert [_data_uri_bytes(u) for u in arguments["image_urls"]] == [result.files[0].data]
