"""/describe and /blend on Discord, end to end: the vision LLM gets the image and its four
suggestions come back with an Imagine button each (a press imagines that prompt on the
presser's own defaults); /blend sends two to five images to kontext-blend in order; a banned
user, a denied model or an empty bucket is refused and takes nothing."""

from __future__ import annotations

import asyncio
import base64
import re
from decimal import Decimal
from typing import Any

import pytest

from core.jobs import Actor
from core.quota import BucketLimits, QuotaScope
from tests.fakes.discord import Issued, Person
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import EPHEMERAL, Env, png

COLORS = ("red", "green", "blue", "yellow", "purple")


def _bytes(uri: str) -> bytes:
    assert uri.startswith("data:image/png;base64,"), uri[:40]
    return base64.b64decode(uri.split(",", 1)[1])


def _attachments(env: Env, count: int, *, width: int = 64) -> list[dict[str, Any]]:
    return [
        env.fake.host_file(f"in{i}.png", png(width, 48, COLORS[i % 5]), "image/png")
        for i in range(count)
    ]


async def _describe(env: Env, person: Person, attachment: dict[str, Any]) -> Issued:
    return await env.slash(
        person,
        "describe",
        options=[p.option("image", p.ATTACHMENT_OPTION, attachment["id"])],
        attachments=[attachment],
    )


async def _blend(env: Env, person: Person, files: list[dict[str, Any]], **extra: Any) -> Issued:
    options = [p.option(f"image{i + 1}", p.ATTACHMENT_OPTION, a["id"]) for i, a in enumerate(files)]
    options += [p.option(k, p.STRING, v) for k, v in extra.items()]
    return await env.slash(person, "blend", options=options, attachments=files)


async def test_describe_gives_four_suggestions_and_a_button_imagines_one(env: Env) -> None:
    bot = await env.start_bot()
    image = env.fake.host_file("scene.png", png(96, 64, "teal"), "image/png")

    issued = await _describe(env, env.alice, image)
    final = await env.final_edit(issued)

    endpoint, arguments = env.sim.submits[0]
    assert endpoint == "openrouter/router/vision"
    assert [_bytes(u) for u in arguments["image_urls"]] == [png(96, 64, "teal")]
    assert arguments["model"] and "4 different prompts" in arguments["prompt"]
    content = final.json["content"]
    suggestions = re.findall(r"^\*\*(\d)\.\*\* (.+)$", content, re.MULTILINE)
    assert [n for n, _ in suggestions] == ["1", "2", "3", "4"]
    assert all("96x64 scene" in text for _, text in suggestions)  # the LLM saw this image
    assert "-# describe · about $0.003" in content
    buttons = env.fake.button_ids(env.fake.original(issued))
    assert list(buttons) == ["Imagine 1", "Imagine 2", "Imagine 3", "Imagine 4", "Delete"]

    press = await env.fake.send_interaction(
        env.fake.click(env.alice, env.fake.original(issued), buttons["Imagine 2"])
    )
    await env.final_edit(press)
    endpoint, arguments = env.sim.submits[1]
    assert endpoint == "fal-ai/flux/schnell"
    assert arguments["prompt"] == suggestions[1][1]
    child = (await bot.app.engine.jobs(Actor("discord", env.fake.guild_id, env.alice.id)))[0]
    assert child.parent_job_id is not None and child.parent_job_id.startswith(
        re.search(r"job ([0-9a-f]{8})", content)[1]  # type: ignore[index]
    )


@pytest.mark.parametrize("count", [2, 5])
async def test_blend_sends_every_image_in_order(env: Env, count: int) -> None:
    await env.start_bot()
    files = _attachments(env, count)

    issued = await _blend(env, env.alice, files, prompt="one cosy room", aspect="16:9")
    final = await env.final_edit(issued)

    endpoint, arguments = env.sim.submits[0]
    assert endpoint == "fal-ai/flux-pro/kontext/multi"
    assert [_bytes(u) for u in arguments["image_urls"]] == [env.fake.cdn_bytes(a) for a in files]
    assert arguments["prompt"] == "one cosy room"
    assert arguments["aspect_ratio"] == "16:9"
    assert len(final.files) == 1 and "kontext-blend" in final.json["content"]


async def test_blend_without_a_prompt_asks_for_the_images_as_one(env: Env) -> None:
    await env.start_bot()
    issued = await _blend(env, env.alice, _attachments(env, 2))
    await env.final_edit(issued)
    assert env.sim.submits[0][1]["prompt"].startswith("Blend these images into one")


async def _refusal(env: Env, issued: Issued) -> str:
    callback = await env.callback(issued)
    assert callback.json["type"] == 4 and callback.json["data"]["flags"] & EPHEMERAL
    return str(callback.json["data"]["content"])


async def _nothing_taken(env: Env, person: Person) -> None:
    engine = env.bots[0].app.engine
    actor = Actor("discord", env.fake.guild_id, person.id)
    assert env.sim.submits == []
    assert await engine.jobs(actor) == []
    assert env.fake.cdn_requests == []  # refused before any image was fetched


@pytest.mark.parametrize("verb", ["describe", "blend"])
async def test_refusals_take_nothing(env: Env, verb: str) -> None:
    bot = await env.start_bot()
    store, guild = bot.app.store, env.fake.guild_id

    async def send(person: Person) -> Issued:
        if verb == "describe":
            return await _describe(env, person, _attachments(env, 1)[0])
        return await _blend(env, person, _attachments(env, 3))

    await store.set_banned(guild, env.alice.id, True)
    assert "not allowed to use falbot" in await _refusal(env, await send(env.alice))
    await _nothing_taken(env, env.alice)

    model = "describe" if verb == "describe" else "kontext-blend"
    await store.set_model_denied(guild, model, True)
    assert f"{model} is not allowed" in await _refusal(env, await send(env.bob))
    await store.set_model_denied(guild, model, False)

    tiny = BucketLimits(Decimal("0.01"), Decimal(0))
    await store.set_quota(guild, QuotaScope.USER, env.bob.id, tiny)
    assert "Out of credits" in await _refusal(env, await send(env.bob))
    await _nothing_taken(env, env.bob)
    assert (await bot.app.engine.quota(Actor("discord", guild, env.bob.id))).level == Decimal(
        "0.01"
    )


async def test_an_imagine_button_works_after_a_restart(env: Env) -> None:
    first = await env.start_bot()
    image = env.fake.host_file("scene.png", png(96, 64, "teal"), "image/png")
    issued = await _describe(env, env.alice, image)
    await env.final_edit(issued)
    actor = Actor("discord", env.fake.guild_id, env.alice.id)
    async with asyncio.timeout(5):  # recorded as delivered (after the edit) before stopping
        while True:
            if all(j.state.final for j in await first.app.engine.jobs(actor)):
                break
            await asyncio.sleep(0.01)
    await env.stop_bot(first)
    await env.start_bot()

    message = env.fake.original(issued)
    press = await env.fake.send_interaction(
        env.fake.click(env.alice, message, env.fake.button_ids(message)["Imagine 4"])
    )
    await env.final_edit(press)
    assert env.sim.submits[1][0] == "fal-ai/flux/schnell"
