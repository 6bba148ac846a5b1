"""Taking images in: what admission would refuse anyway (a ban, a denied model, a quota that
cannot hold the job) is refused before a single image is downloaded from Discord's CDN, on
every path that fetches images; and one request's images may not add up past the pixel cap."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from PIL import Image

from core.jobs import Actor
from core.quota import BucketLimits, QuotaScope
from tests.fakes.discord import Issued, Person, Recorded
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import EPHEMERAL, Env, png


@pytest.fixture(scope="module")
def big_webp() -> bytes:
    """40 MP in about 100 KB: cheap to send, costly to decode."""
    buf = io.BytesIO()
    Image.new("RGB", (8000, 5000), (30, 90, 200)).save(buf, "WEBP", quality=50, method=0)
    return buf.getvalue()


def actor(env: Env, person: Person) -> Actor:
    return Actor("discord", env.fake.guild_id, person.id)


async def ban(env: Env, person: Person) -> None:
    await env.bots[0].app.store.set_banned(env.fake.guild_id, person.id, True)


async def ephemeral_answer(env: Env, issued: Issued) -> str:
    """The interaction's refusal: its first answer, or a followup after a deferral."""
    callback = await env.callback(issued)
    if callback.json["type"] == 4:
        assert callback.json["data"]["flags"] & EPHEMERAL
        return str(callback.json["data"]["content"])
    followup = await env.fake.wait_for(
        lambda r: r.route == "POST /webhooks/{app}/{token}" and issued.token in r.path
    )
    assert followup.json["flags"] & EPHEMERAL
    return str(followup.json["content"])


async def nothing_taken(env: Env, person: Person, *, level: Decimal = Decimal(100)) -> None:
    engine = env.bots[0].app.engine
    assert env.sim.submits == []
    assert await engine.jobs(actor(env, person)) == []
    assert (await engine.quota(actor(env, person))).level == level


async def test_a_banned_users_mention_with_images_downloads_nothing(
    env: Env, big_webp: bytes
) -> None:
    await env.start_bot()
    await ban(env, env.alice)
    files = [env.fake.host_file(f"big-{i}.webp", big_webp, "image/webp") for i in range(10)]

    mention = await env.fake.post_message(
        env.alice, "make it night", mention_bot=True, attachments=files
    )

    answer: Recorded = await env.fake.wait_for(
        lambda r: (
            r.route == "POST /channels/{channel}/messages"
            and str((r.json.get("message_reference") or {}).get("message_id")) == mention["id"]
        )
    )
    assert "not allowed to use falbot" in answer.json["content"]
    assert env.fake.cdn_requests == []  # not one image fetched, let alone decoded
    await nothing_taken(env, env.alice)


async def test_a_banned_users_edit_command_downloads_nothing(env: Env) -> None:
    await env.start_bot()
    await ban(env, env.alice)
    attachment = env.fake.host_file("in.png", png(), "image/png")

    issued = await env.slash(
        env.alice,
        "edit",
        options=[
            p.option("prompt", p.STRING, "add a hat"),
            p.option("image", p.ATTACHMENT_OPTION, attachment["id"]),
        ],
        attachments=[attachment],
    )

    assert "not allowed to use falbot" in await ephemeral_answer(env, issued)
    assert (await env.callback(issued)).json["type"] == 4  # refused at once, not deferred
    assert env.fake.cdn_requests == []
    await nothing_taken(env, env.alice)


async def test_an_upscale_the_quota_never_holds_downloads_nothing(env: Env) -> None:
    await env.start_bot()
    tiny = BucketLimits(Decimal("0.01"), Decimal(0))
    store = env.bots[0].app.store
    await store.set_quota(env.fake.guild_id, QuotaScope.USER, env.alice.id, tiny)
    attachment = env.fake.host_file("small.png", png(), "image/png")

    issued = await env.slash(
        env.alice,
        "upscale",
        options=[p.option("image", p.ATTACHMENT_OPTION, attachment["id"])],
        attachments=[attachment],
    )

    assert "more than your quota ever holds" in await ephemeral_answer(env, issued)
    assert env.fake.cdn_requests == []
    await nothing_taken(env, env.alice, level=Decimal("0.01"))


async def test_the_edit_image_modal_with_a_denied_model_downloads_nothing(env: Env) -> None:
    await env.start_bot()
    await env.bots[0].app.store.set_model_denied(env.fake.guild_id, "gpt-image-edit", True)
    target = await env.fake.post_message(
        env.bob, "my cat", attachments=[env.fake.host_file("cat.png", png(), "image/png")]
    )
    menu = await env.fake.send_interaction(
        env.fake.message_command(env.alice, "Edit image", target)
    )
    assert (await env.callback(menu)).json["type"] == 9  # the modal

    submit = await env.fake.send_interaction(
        env.fake.modal_submit(
            env.alice, menu, modal_values(menu, what="blue", model="gpt-image-edit")
        )
    )

    assert "gpt-image-edit is not allowed" in await ephemeral_answer(env, submit)
    assert env.fake.cdn_requests == []
    await nothing_taken(env, env.alice)


async def test_an_edit_past_the_pixel_cap_is_refused_and_takes_nothing(
    env: Env, big_webp: bytes
) -> None:
    await env.start_bot()
    first = env.fake.host_file("a.webp", big_webp, "image/webp")
    second = env.fake.host_file("b.webp", big_webp, "image/webp")

    issued = await env.slash(
        env.alice,
        "edit",
        options=[
            p.option("prompt", p.STRING, "put them side by side"),
            p.option("image", p.ATTACHMENT_OPTION, first["id"]),
            p.option("image2", p.ATTACHMENT_OPTION, second["id"]),
        ],
        attachments=[first, second],
    )

    answer = await ephemeral_answer(env, issued)
    assert "Your images add up to 80 megapixels; the limit is 64 megapixels" in answer
    assert "Send fewer or smaller images." in answer
    await nothing_taken(env, env.alice)


def modal_values(issued: Issued, **by_label: str) -> dict[str, str]:
    """Text input custom_id → value, found by the input's label (first word, lower case)."""
    values = {}
    for row in issued.modal["components"]:
        for comp in row.get("components") or [row.get("component")]:
            label: Any = comp.get("label") or row.get("label")
            if str(label).split()[0].lower() in by_label:
                values[comp["custom_id"]] = by_label[str(label).split()[0].lower()]
    return values
