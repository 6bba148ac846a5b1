"""Large images are read and decoded off the event loop, in a small pool of worker processes, and
one request's images may not add up to more than its pixel cap: the loop keeps answering others
(Slack gives 3 s to ack) while a burst of 40 MP images is checked. A worker that dies is a clear
refusal and is replaced; idle workers stop. Against a loopback file host, through aiohttp as
falbot fetches."""

from __future__ import annotations

import asyncio
import io
import multiprocessing
import os
import signal
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from PIL import Image

from adapters.media_fetch import MediaFetcher
from adapters.media_workers import ImageChecker
from core.errors import BotError, ErrorCode
from core.media import MAX_PIXELS, MAX_REQUEST_PIXELS, PixelBudget
from tests.fakes.fal import png_bytes

MAX_BYTES = 2 * 1024 * 1024
# Generous for a loaded 2-core machine; checking these images on the loop blocks it for
# seconds (each takes about half a second of CPU to decode).
MAX_LAG_S = 0.25


@pytest.fixture(scope="module")
def big_webp() -> bytes:
    """A 40 MP WebP of about 100 KB: cheap to send, costly to decode."""
    buf = io.BytesIO()
    Image.new("RGB", (8000, 5000), (30, 90, 200)).save(buf, "WEBP", quality=50, method=0)
    assert MAX_PIXELS == 8000 * 5000 and len(buf.getvalue()) < 200_000
    return buf.getvalue()


@pytest.fixture
async def host(big_webp: bytes) -> AsyncIterator[str]:
    # 25 MP whose pixel data is cut short: its header reads, its decode would fail.
    buf = io.BytesIO()
    Image.new("RGB", (5000, 5000), "white").save(buf, "PNG")
    truncated = buf.getvalue()[: len(buf.getvalue()) // 2]

    async def serve(request: web.Request) -> web.Response:
        if request.match_info["name"].startswith("truncated"):
            return web.Response(body=truncated, content_type="image/png")
        return web.Response(body=big_webp, content_type="image/webp")

    app = web.Application()
    app.router.add_get("/files/{name}", serve)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def fetcher(host: str) -> AsyncIterator[MediaFetcher]:
    media = MediaFetcher(allowed_hosts=[host], max_bytes=MAX_BYTES)
    try:
        yield media
    finally:
        await media.aclose()


class LoopLag:
    """A ticker on the event loop: the longest it ever waited past its 10 ms sleep."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            before = time.perf_counter()
            try:
                await asyncio.sleep(0.01)
            finally:  # cancelled too: a block just before the end counts
                self.worst = max(self.worst, time.perf_counter() - before - 0.01)

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def test_the_loop_stays_free_while_several_large_images_are_checked(
    fetcher: MediaFetcher, host: str
) -> None:
    async with LoopLag() as lag:
        images = await asyncio.gather(
            *(fetcher.fetch_image(f"http://{host}/files/big-{n}.webp") for n in range(4))
        )
    assert [(i.width, i.height) for i in images] == [(8000, 5000)] * 4
    assert lag.worst < MAX_LAG_S, f"the event loop was blocked for {lag.worst:.3f} s"


async def test_a_request_past_its_pixel_cap_is_refused_before_decoding_the_rest(
    fetcher: MediaFetcher, host: str
) -> None:
    budget = fetcher.request_budget()
    first = await fetcher.fetch_image(f"http://{host}/files/big-1.webp", budget=budget)
    assert first.width == 8000
    with pytest.raises(BotError) as caught:
        # A damaged image would fail its decode: the cap is said first, so it was not decoded.
        await fetcher.fetch_image(f"http://{host}/files/truncated.png", budget=budget)
    error = caught.value
    assert error.code is ErrorCode.INVALID_INPUT
    assert error.message == (
        "Your images add up to 65 megapixels; the limit is 64 megapixels for one request."
    )
    assert error.hint == "Send fewer or smaller images."
    assert MAX_REQUEST_PIXELS == 64_000_000
    # Another request has its own cap.
    assert (await fetcher.fetch_image(f"http://{host}/files/big-2.webp")).width == 8000


async def test_a_worker_killed_mid_check_is_a_clear_refusal_and_the_next_image_is_checked(
    big_webp: bytes,
) -> None:
    checker = ImageChecker()
    try:
        checking = asyncio.create_task(
            checker.check(big_webp, max_bytes=MAX_BYTES, budget=PixelBudget())
        )
        async with asyncio.timeout(10):
            while not multiprocessing.active_children():  # noqa: ASYNC110 - no event to wait on
                await asyncio.sleep(0.01)
        for worker in multiprocessing.active_children():
            os.kill(worker.pid or 0, signal.SIGKILL)  # as the OS's OOM killer would
        with pytest.raises(BotError) as caught:
            await checking
        assert caught.value.code is ErrorCode.INVALID_INPUT
        assert caught.value.message == "I could not read that image."
        image = await checker.check(big_webp, max_bytes=MAX_BYTES, budget=PixelBudget())
        assert image.width == 8000
    finally:
        await checker.aclose()
    assert not checker.running


async def test_the_workers_stop_when_idle_and_start_again_with_the_next_image(
    big_webp: bytes,
) -> None:
    checker = ImageChecker(idle_stop=0.05)
    try:
        small = png_bytes()
        assert (await checker.check(small, max_bytes=MAX_BYTES, budget=PixelBudget())).width == 8
        assert checker.running
        async with asyncio.timeout(5):
            while checker.running:  # noqa: ASYNC110 - no event to wait on
                await asyncio.sleep(0.01)
        assert (await checker.check(small, max_bytes=MAX_BYTES, budget=PixelBudget())).width == 8
    finally:
        await checker.aclose()
