"""The mention path on Discord gets the same price check and private mode as slash commands:
a quote in place of the placeholder (its buttons the requester's), and a private job (private
mode on in the person's /settings) answered only in a DM."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from core.jobs import Actor
from tests.fakes.discord import Person
from tests.integration.discord.conftest import EPHEMERAL, Env, png

THRESHOLD = {"FALBOT_CONFIRM_ABOVE_USD": Decimal("0.01"), "FALBOT_DISCORD_MESSAGE_CONTENT": True}


async def _mention_an_image(env: Env, person: Person) -> dict[str, Any]:
    parent = await env.fake.post_message(
        env.bob, "", attachments=[env.fake.host_file("tree.png", png(), "image/png")]
    )
    return await env.fake.post_message(person, "add snow", mention_bot=True, reply_to=parent)


async def test_a_mention_above_the_threshold_is_quoted_then_confirmed(env: Env) -> None:
    await env.start_bot(settings=THRESHOLD)
    mention = await _mention_an_image(env, env.alice)

    quoted = await env.fake.wait_for(
        lambda r: (
            r.route == "PATCH /channels/{channel}/messages/{message}"
            and bool((r.json or {}).get("components"))
        )
    )
    assert "**nano-banana-edit** will cost about **$0.039**" in quoted.json["content"]
    assert env.sim.submits == []
    message = copy.deepcopy(env.fake.messages[quoted.answer["id"]])
    assert str((message.get("referenced_message") or {}).get("id")) == mention["id"]
    ids = env.fake.button_ids(message)

    refused = await env.fake.send_interaction(
        env.fake.click(env.bob, message, ids["Confirm $0.039"])
    )
    said = await env.callback(refused)
    assert said.json["data"]["flags"] & EPHEMERAL
    assert "Only the person who asked for this quote" in said.json["data"]["content"]

    confirm = await env.fake.send_interaction(
        env.fake.click(env.alice, message, ids["Confirm $0.039"])
    )
    final = await env.final_edit(confirm)
    assert len(final.files) == 1
    assert [s[0] for s in env.sim.submits] == ["fal-ai/nano-banana/edit"]


async def test_a_private_mention_is_answered_only_in_a_dm(env: Env) -> None:
    bot = await env.start_bot(settings={"FALBOT_DISCORD_MESSAGE_CONTENT": True})
    alice = Actor("discord", env.fake.guild_id, env.alice.id)
    await bot.app.engine.preferences.change(alice, {"private": "on"})  # her /settings
    await _mention_an_image(env, env.alice)

    dm = env.fake.dm_channel(env.alice)
    final = await env.fake.wait_for(
        lambda r: (
            r.route == "PATCH /channels/{channel}/messages/{message}"
            and bool((r.json or {}).get("components"))
        ),
        timeout=10,
    )
    assert final.path.startswith(f"/channels/{dm['id']}/")
    assert len(final.files) == 1
    bot_posts = [
        r
        for r in env.fake.requests
        if r.route.startswith(("POST /channels", "PATCH /channels")) and r.status == 200
    ]
    assert bot_posts and all(r.path.startswith(f"/channels/{dm['id']}/") for r in bot_posts)
    assert [r.fal_headers.get("x-fal-store-io") for r in env.sim.requests.values()] == ["0"]
