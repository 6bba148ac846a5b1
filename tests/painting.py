"""What the region painter's browser tests share: the stroke they paint, what the mask must
then hold, driving the page, and falbot's log as it writes it (to look for the token in)."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image

from bot.logging_setup import log_handler
from tests.browser import Browser

LINK = re.compile(r"https?://127\.0\.0\.1:\d+/paint/[A-Za-z0-9_-]{43}")
STROKE = [(0.25, 0.5), (0.4, 0.5), (0.55, 0.5), (0.7, 0.5)]  # across the middle


@contextmanager
def falbot_log() -> Iterator[io.StringIO]:
    """What falbot's own log handler (`bot.logging_setup.log_handler`, as `falbot run` installs
    it) writes meanwhile, with the root logger at DEBUG and no library quietened: more than a
    real run logs."""
    out = io.StringIO()
    handler = log_handler(secrets=(), stream=out)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def check_mask(mask: Image.Image, size: tuple[int, int]) -> None:
    """The mask is the image's size, white where the stroke went and black far from it."""
    assert mask.size == size
    gray = mask.convert("L")
    w, h = size
    for x, y in STROKE:
        assert gray.getpixel((int(x * w), int(y * h))) == 255, (x, y)
    for x, y in [(0.05, 0.05), (0.95, 0.95), (0.5, 0.1), (0.5, 0.9), (0.9, 0.5), (0.1, 0.5)]:
        assert gray.getpixel((int(x * w), int(y * h))) == 0, (x, y)
    assert sum(gray.histogram()[1:255]) == 0  # sent as pure black and white


async def paint_and_submit(browser: Browser, url: str, *, prompt: str, shots: str) -> str:
    """Open the page, screenshot it, paint the stroke, type, submit; the page's last word."""
    await browser.open(url)
    await browser.wait_js(
        "const i = document.getElementById('photo'); return i.complete && i.naturalWidth > 0"
    )
    await browser.screenshot(f"{shots}-desktop.png")
    await browser.stroke("paint", STROKE)
    await browser.type("prompt", prompt)
    await browser.wait_js("return !document.getElementById('submit').disabled")
    await browser.click("submit")
    return str(
        await browser.wait_js(
            "const s = document.getElementById('status').textContent;"
            "return s.startsWith('Done') || s.startsWith('The job failed') ? s : null",
            timeout=30,
        )
    )
