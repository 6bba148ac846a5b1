"""Edit region on Discord, end to end: `falbot run` (the composition root) on the fake Discord
and the fal simulator, a result's Edit region button answered privately with a link, the
page opened in headless Chromium, a stroke painted with the mouse, a prompt typed, Submit; the
inpainted result then comes back to Discord under the result, with its cost, and the
simulator got a mask painted where the stroke went."""

from __future__ import annotations

import io
from typing import Any

import aiohttp
from PIL import Image

from bot.run import serving, sync_commands
from tests.browser import Browser
from tests.e2e.process import free_port
from tests.fakes.discord import Issued
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import EPHEMERAL, Env
from tests.painting import LINK, check_mask, falbot_log, paint_and_submit

SUPPRESS_EMBEDS = 4


def painter_settings(env: Env) -> Any:
    port = free_port()
    return env.settings(
        FALBOT_HTTP_HOST="127.0.0.1",
        FALBOT_HTTP_PORT=port,
        FALBOT_PUBLIC_URL=f"http://127.0.0.1:{port}",
        FALBOT_FAL_JWKS_URL=env.sim.jwks_url,
    )


async def _result(env: Env) -> tuple[Issued, dict[str, Any]]:
    issued = await env.slash(
        env.alice, "imagine", options=[p.option("prompt", p.STRING, "a lighthouse at dawn")]
    )
    await env.final_edit(issued)
    return issued, env.fake.original(issued)


async def _edit_region(env: Env, message: dict[str, Any], person: Any = None) -> dict[str, Any]:
    """Press Edit region under `message`; the interaction's answer."""
    ids = env.fake.button_ids(message)
    click = env.fake.click(person or env.alice, message, ids["Edit region"])
    issued = await env.fake.send_interaction(click)
    return (await env.callback(issued)).json  # type: ignore[no-any-return]


async def test_a_result_is_repainted_through_the_page(env: Env, browser: Browser) -> None:
    settings = painter_settings(env)
    assert await sync_commands(settings, guild=None) == 0
    with falbot_log() as log:
        async with serving(settings):
            _, message = await _result(env)
            answer = await _edit_region(env, message)
            assert answer["type"] == 4 and answer["data"]["flags"] & EPHEMERAL
            assert answer["data"]["flags"] & SUPPRESS_EMBEDS  # no preview: no crawler opens it
            url = LINK.search(answer["data"]["content"])
            assert url is not None, answer["data"]["content"]
            assert "works once" in answer["data"]["content"]

            said = await paint_and_submit(
                browser, url[0], prompt="a stormy sky", shots="painter-discord"
            )
            assert said.startswith("Done: posted in #"), said
            await browser.screenshot("painter-discord-done.png")

            placeholder = await env.fake.wait_for(
                lambda r: (
                    r.route == "POST /channels/{channel}/messages"
                    and str((r.json.get("message_reference") or {}).get("message_id"))
                    == message["id"]
                ),
                timeout=10,
            )
            posted = await env.fake.wait_for(
                lambda r: (
                    r.route == "PATCH /channels/{channel}/messages/{message}"
                    and r.path.endswith(placeholder.answer["id"])
                    and bool(r.files)
                ),
                timeout=10,
            )
            endpoint, arguments = env.sim.submits[-1]
            parent = next(iter(env.sim.requests.values())).output["images"][0]  # type: ignore[index]
            mask = Image.open(io.BytesIO(await env.output_bytes(arguments["mask_url"])))

    assert endpoint == "fal-ai/flux-pro/v1/fill"
    assert arguments["prompt"] == "a stormy sky"
    assert arguments["image_url"] == parent["url"]
    check_mask(mask, (parent["width"], parent["height"]))
    assert "$" in posted.json["content"] and "flux-fill" in posted.json["content"]
    token = url[0].rsplit("/", 1)[1]
    ours = log.getvalue()
    assert "painting link" in ours  # the link was logged, by its hash only
    assert token not in ours


async def test_the_link_works_once_and_for_its_owner_only(env: Env, browser: Browser) -> None:
    settings = painter_settings(env)
    assert await sync_commands(settings, guild=None) == 0
    async with serving(settings):
        _, message = await _result(env)
        refused = await _edit_region(env, message, person=env.bob)
        assert refused["data"]["flags"] & EPHEMERAL
        assert "Only the person who asked" in refused["data"]["content"]
        assert LINK.search(refused["data"]["content"]) is None

        answer = await _edit_region(env, message)
        url = LINK.search(answer["data"]["content"])
        assert url is not None
        said = await paint_and_submit(browser, url[0], prompt="snow", shots="painter-once")
        assert said.startswith("Done"), said

        await browser.open(url[0])  # used: a clear page, nothing to paint on
        page = str(await browser.js("return document.body.textContent"))
        await browser.screenshot("painter-used-desktop.png")
        async with aiohttp.ClientSession() as http, http.get(url[0]) as response:
            status = response.status
    assert "already been used" in page and "Edit region" in page
    assert status == 410
