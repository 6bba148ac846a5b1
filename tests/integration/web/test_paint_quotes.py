"""The region painter's Submit above the workspace's price threshold, over HTTP: the page gets
the quote (402: nothing started, nothing taken, the link still good), Submit again with it
starts the job once; a lapsed quote says so and starts nothing."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
from typing import Any

from tests.browser import Browser
from tests.integration.web.conftest import Painting, mask_png, size_of

_LOADED = "const i = document.getElementById('photo'); return i.complete && i.naturalWidth > 0"


async def _until_posted(painting: Painting, url: str) -> dict[str, Any]:
    """The page's own way: ask for the status until the job is posted (or failed)."""
    async with asyncio.timeout(20):
        while True:
            async with painting.http.get(f"{url}/status") as response:
                answer: dict[str, Any] = await response.json()
            if answer.get("state") in ("posted", "failed"):
                return answer
            await asyncio.sleep(0.05)  # the page polls too: no event to wait on


def _body(mask: bytes, confirm: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "prompt": "a stormy sky",
        "mask": "data:image/png;base64," + base64.b64encode(mask).decode(),
    }
    if confirm is not None:
        body["confirm"] = confirm
    return body


async def _quoted(painting: Painting) -> tuple[str, dict[str, Any], bytes]:
    job = await painting.result()
    url = await painting.link(job)
    assert await painting.session.handle("/admin confirm-above 0.001")
    mask = mask_png(size_of(job), box=(5, 5, 50, 50))
    level = (await painting.app.engine.quota(painting.session.actor)).level

    status, answer = await painting.post(url, _body(mask))

    assert status == 402 and answer["ok"] is False
    quote = answer["quote"]
    assert "flux-fill will cost about $" in quote["text"] and "credits" in quote["text"]
    assert "You have" in quote["text"] and " UTC (5 minutes)" in quote["text"]
    assert "**" not in quote["text"] and "\ue000" not in quote["text"]
    assert quote["confirm"].startswith("Confirm $")
    assert len(await painting.jobs()) == 1  # only the result painted on
    assert len(painting.sim.submits) == 1
    assert (await painting.app.engine.quota(painting.session.actor)).level >= level
    return url, quote, mask


async def test_submit_above_the_threshold_is_quoted_then_confirmed_once(
    painting: Painting,
) -> None:
    url, quote, mask = await _quoted(painting)

    status, _ = await painting.post(url, _body(mask, confirm=quote["id"]))
    again, _ = await painting.post(url, _body(mask, confirm=quote["id"]))

    assert status == 202
    assert again == 410  # the link is used
    assert (await _until_posted(painting, url))["state"] == "posted"
    jobs = await painting.jobs()
    assert len(jobs) == 2 and jobs[0].model == "flux-fill"
    assert [s[0] for s in painting.sim.submits][-1] == "fal-ai/flux-pro/v1/fill"


async def test_a_lapsed_quote_says_so_and_the_link_asks_again(painting: Painting) -> None:
    url, quote, mask = await _quoted(painting)
    painting.clock.offset += timedelta(minutes=5, seconds=1)

    status, answer = await painting.post(url, _body(mask, confirm=quote["id"]))

    assert status == 422
    assert answer["error"]["message"] == (
        "This quote lapsed: quotes last 5 minutes, and nothing was taken."
    )
    assert len(await painting.jobs()) == 1
    fresh, again = await painting.post(url, _body(mask))
    assert fresh == 402 and again["quote"]["id"] != quote["id"]


async def test_a_malformed_confirm_is_refused(painting: Painting) -> None:
    job = await painting.result()
    url = await painting.link(job)
    mask = mask_png(size_of(job), box=(5, 5, 50, 50))
    status, answer = await painting.post(url, _body(mask, confirm="not a quote"))
    assert status == 422
    assert answer["error"]["message"] == "That request is not one the painting page sends."


async def test_the_page_shows_the_quote_and_its_submit_confirms(
    painting: Painting, browser: Browser
) -> None:
    """In headless Chromium: the first Submit shows the price and turns into Confirm $…; the
    second starts the job."""
    job = await painting.result()
    await browser.open(await painting.link(job))
    await browser.wait_js(_LOADED)
    assert await painting.session.handle("/admin confirm-above 0.001")
    await browser.stroke("paint", [(0.3, 0.5), (0.7, 0.5)])
    await browser.type("prompt", "snow")

    await browser.click("submit")
    said = await browser.wait_js(
        "const s = document.getElementById('status');"
        "return s.textContent.includes('will cost about') ? s.textContent : null"
    )
    label = await browser.js("return document.getElementById('submit').textContent")
    await browser.screenshot("painter-quote-desktop.png")
    assert "flux-fill will cost about $" in said and "Nothing is taken until you confirm" in said
    assert str(label).startswith("Confirm $")
    assert len(await painting.jobs()) == 1

    await browser.click("submit")
    done = await browser.wait_js(
        "const s = document.getElementById('status');"
        "return s.classList.contains('done') ? s.textContent : null",
        timeout=20,
    )
    assert str(done).startswith("Done: posted in")
    assert (await painting.jobs())[0].model == "flux-fill"
