"""The region painter's routes, over HTTP: the page and what it may load; every bad input
refused with a clear answer and nothing changed (no job, no fal request, the link still
good); a link used once, lapsed or unknown refused; two submits at once start one job;
admission's refusals leave the link usable; requests limited per token and per address;
the token in no log line."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from PIL import Image

from adapters.fal.simulator import FalSimulator
from core.model_inputs import MAX_PROMPT
from tests.integration.web.conftest import Painting, mask_png, open_painting, size_of
from tests.painting import falbot_log


def _body(mask: bytes, prompt: str = "a stormy sky") -> dict[str, str]:
    return {"prompt": prompt, "mask": "data:image/png;base64," + base64.b64encode(mask).decode()}


def _bomb() -> bytes:
    """A PNG that says it is 60000×60000 pixels (a 3.6-gigapixel decode) in a few hundred bytes."""
    image = Image.new("1", (60000, 60000))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def _until_posted(painting: Painting, url: str) -> dict[str, Any]:
    """The page's own way: ask for the status until the job is posted (or failed)."""
    async with asyncio.timeout(20):
        while True:
            async with painting.http.get(f"{url}/status") as response:
                answer = await response.json()
            if answer.get("state") in ("posted", "failed"):
                return answer  # type: ignore[no-any-return]
            await asyncio.sleep(0.05)  # the page polls too: no event to wait on


async def test_the_page_is_served_whole_with_a_strict_policy(painting: Painting) -> None:
    job = await painting.result()
    url = await painting.link(job)

    status, html, headers = await painting.get(url)
    assert status == 200
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "img-src 'self'" in csp
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None  # no inline script
    assert " style=" not in html and "<style" not in html  # no inline style
    assert re.search(r"(src|href)=\"(?!/paint/)", html) is None  # nothing from elsewhere
    width, height = size_of(job)
    assert f'data-width="{width}"' in html and "$0.05" in html and "the console" in html

    for name, kind in (("paint.js", "text/javascript"), ("paint.css", "text/css")):
        status, text, headers = await painting.get(f"{painting.base}/paint/static/{name}")
        assert status == 200 and headers["Content-Type"].startswith(kind) and text
        assert "http" not in text.replace("http-equiv", "")  # no outside resource
    async with painting.http.get(f"{url}/image") as response:
        assert response.status == 200 and response.content_type == "image/png"
        image = Image.open(io.BytesIO(await response.read()))
    assert image.size == (width, height)


async def test_every_bad_input_is_refused_and_changes_nothing(
    painting: Painting, fal_sim: FalSimulator
) -> None:
    job = await painting.result()
    url = await painting.link(job)
    size = size_of(job)
    w, h = size
    good = mask_png(size, box=(w // 4, h // 4, w // 2, h // 2))
    jpeg = io.BytesIO()
    Image.new("RGB", size).save(jpeg, "JPEG")
    before_jobs, before_submits = len(await painting.jobs()), len(fal_sim.submits)

    cases: list[tuple[Any, int, str]] = [
        (_body(mask_png((w + 1, h), box=(0, 0, 5, 5))), 422, f"the image is {w}×{h}"),
        (_body(mask_png((w // 2, h // 2), box=(0, 0, 5, 5))), 422, "The mask is"),
        (_body(jpeg.getvalue()), 422, "must be a PNG"),
        (
            {"prompt": "x", "mask": "data:image/jpeg;base64," + base64.b64encode(b"x").decode()},
            422,
            "must be a PNG",
        ),
        ({"prompt": "x", "mask": "data:image/png;base64,%%%"}, 422, "damaged"),
        (_body(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40), 422, "damaged"),
        (_body(_bomb()), 422, "60000×60000"),
        (_body(mask_png(size)), 422, "Nothing is painted"),
        (_body(mask_png(size, box=(0, 0, w, h))), 422, "The whole image is painted"),
        (_body(good, prompt="x" * (MAX_PROMPT + 1)), 422, f"the limit is {MAX_PROMPT}"),
        (_body(good, prompt="  \u200b "), 422, "Say what to paint"),
        ({"prompt": "x"}, 422, "not one the painting page sends"),
        ("not json", 422, "not one the painting page sends"),
        (json.dumps(_body(good)) + " " * (12 * 1024 * 1024), 422, "bigger than"),
    ]
    for body, status, said in cases:
        got, answer = await painting.post(url, body)
        assert (got, answer["ok"]) == (status, False), (said, answer)
        error = answer["error"]
        assert said in f"{error['message']} {error['hint']}", (said, error)
        assert error["hint"], error  # every refusal says what to do next

    assert len(await painting.jobs()) == before_jobs  # nothing admitted, nothing charged
    assert len(fal_sim.submits) == before_submits  # nothing sent to fal
    got, answer = await painting.post(url, _body(good))  # and the link still works
    assert got == 202 and answer["state"] in ("queued", "working", "posted"), answer
    assert (await _until_posted(painting, url))["state"] == "posted"


async def test_a_used_link_is_refused_everywhere(painting: Painting) -> None:
    job = await painting.result()
    url = await painting.link(job)
    good = mask_png(size_of(job), box=(0, 0, 10, 10))
    assert (await painting.post(url, _body(good)))[0] == 202
    jobs = len(await painting.jobs())

    got, answer = await painting.post(url, _body(good))
    status, html, _ = await painting.get(url)
    image_status = (await painting.get(f"{url}/image"))[0]

    assert (got, answer["error"]["reason"]) == (410, "used")
    assert "already been used" in answer["error"]["message"]
    assert status == 410 and "already been used" in html and "Edit region" in html
    assert image_status == 410
    assert len(await painting.jobs()) == jobs
    assert (await _until_posted(painting, url))["place"] == "the console"


async def test_a_lapsed_link_is_refused(painting: Painting) -> None:
    job = await painting.result()
    url = await painting.link(job)
    painting.clock.offset = timedelta(minutes=15, seconds=1)  # core's clock, not the wall's

    got, answer = await painting.post(url, _body(mask_png(size_of(job), box=(0, 0, 9, 9))))
    status, html, _ = await painting.get(url)

    assert (got, answer["error"]["reason"]) == (410, "expired")
    assert status == 410 and "expired" in html
    assert len(await painting.jobs()) == 1


async def test_unknown_and_malformed_tokens_are_refused(painting: Painting) -> None:
    for token in ("A" * 43, "short", "has.a.dot", "A" * 44):
        status, html, headers = await painting.get(f"{painting.base}/paint/{token}")
        got, answer = await painting.post(f"{painting.base}/paint/{token}", {"prompt": "x"})
        assert status == 404 and "not valid" in html, token
        assert "Content-Security-Policy" in headers
        assert (got, answer["error"]["reason"]) == (404, "unknown"), token


async def test_two_submits_at_once_start_one_job(painting: Painting) -> None:
    job = await painting.result()
    url = await painting.link(job)
    body = _body(mask_png(size_of(job), box=(5, 5, 50, 50)))

    answers = await asyncio.gather(*(painting.post(url, body) for _ in range(4)))

    assert sorted(status for status, _ in answers) == [202, 410, 410, 410]
    assert len(await painting.jobs()) == 2  # the result and one fill


async def test_a_refusal_by_admission_leaves_the_link_usable(painting: Painting) -> None:
    """The job goes through the same admission as every job: a ban made after the link was
    made refuses it; lifted, the same link works."""
    job = await painting.result()
    url = await painting.link(job)
    store, actor = painting.app.store, painting.session.actor
    body = _body(mask_png(size_of(job), box=(5, 5, 50, 50)))
    await store.set_banned(actor.workspace_id, actor.user_id, True)

    banned, answer = await painting.post(url, body)
    await store.set_banned(actor.workspace_id, actor.user_id, False)
    later, _ = await painting.post(url, body)

    assert banned == 403
    assert answer["error"]["message"] == "You are not allowed to use falbot here."
    assert later == 202


async def test_requests_are_limited_per_token_and_per_address(
    tmp_path: Path, fal_sim: FalSimulator
) -> None:
    painting, server = await open_painting(tmp_path, fal_sim, per_token=3, per_address=6)
    try:
        job = await painting.result()
        url = await painting.link(job)
        token_statuses = [(await painting.get(url))[0] for _ in range(4)]
        async with painting.http.get(url) as limited:
            retry_after = limited.headers.get("Retry-After")
            limited_status = limited.status
        guesses = [(await painting.get(f"{painting.base}/paint/{c * 43}"))[0] for c in "BCDEFG"]
    finally:
        await painting.http.close()
        await server.close()
        await painting.app.close()

    assert token_statuses == [200, 200, 200, 429]
    assert limited_status == 429 and retry_after is not None and int(retry_after) >= 1
    assert 429 in guesses and guesses[0] == 404  # the address's own limit stops guessing


async def test_the_token_is_in_no_log_line(painting: Painting) -> None:
    with falbot_log() as log:
        job = await painting.result()
        url = await painting.link(job)
        size = size_of(job)
        await painting.post(url, _body(mask_png(size)))  # refused: logged?
        async with painting.http.get(f"{url}/image") as response:
            assert response.status == 200
        await painting.post(url, _body(mask_png(size, box=(0, 0, 9, 9))))
        await _until_posted(painting, url)
        await painting.post(url, _body(mask_png(size, box=(0, 0, 9, 9))))  # used
    token = url.rsplit("/", 1)[1]
    written = log.getvalue()
    assert "painting link" in written and "started job" in written
    assert token not in written


async def test_on_a_grid_the_picked_image_is_painted(
    painting: Painting, fal_sim: FalSimulator
) -> None:
    job = await painting.result("two foxes --count 2")
    assert job.result is not None and len(job.result.outputs) == 2
    url = await painting.link(job, image=2)

    got, _ = await painting.post(url, _body(mask_png(size_of(job), box=(0, 0, 40, 40))))
    await _until_posted(painting, url)

    assert got == 202
    assert "image 2" in painting.screen.getvalue()
    assert fal_sim.submits[-1][1]["image_url"] == job.result.outputs[1].url
