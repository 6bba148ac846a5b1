"""The painter page's tools in headless Chromium: brush and its size, eraser, undo, clear, and
Submit only once something is painted and something is said; then the page's own answer to a
refusal (a lapsed link)."""

from __future__ import annotations

from datetime import timedelta

from PIL import Image

from tests.browser import Browser
from tests.integration.web.conftest import Painting

_LOADED = "const i = document.getElementById('photo'); return i.complete && i.naturalWidth > 0"


def _painted(canvas: Image.Image, x: float, y: float) -> bool:
    """Whether the canvas holds paint at (x, y), in fractions of its size."""
    rgba = canvas.convert("RGBA")
    return rgba.getpixel((int(x * rgba.width), int(y * rgba.height)))[3] > 0


async def _submit_enabled(browser: Browser) -> bool:
    return not await browser.js("return document.getElementById('submit').disabled")


async def test_brush_size_eraser_undo_and_clear(painting: Painting, browser: Browser) -> None:
    job = await painting.result()
    await browser.open(await painting.link(job))
    await browser.wait_js(_LOADED)
    await browser.type("prompt", "a red balloon")
    assert not await _submit_enabled(browser)  # nothing painted yet

    await browser.stroke("paint", [(0.2, 0.3), (0.8, 0.3)])
    await browser.stroke("paint", [(0.2, 0.7), (0.8, 0.7)])
    both = await browser.canvas_png("paint")
    await browser.click("undo")
    undone = await browser.canvas_png("paint")
    await browser.click("eraser")
    await browser.stroke("paint", [(0.4, 0.3), (0.6, 0.3)])
    erased = await browser.canvas_png("paint")
    assert await _submit_enabled(browser)

    await browser.click("clear")
    cleared = await browser.canvas_png("paint")
    assert not await _submit_enabled(browser)
    await browser.click("brush")
    await browser.js(
        "const s = document.getElementById('size'); s.value = s.max;"
        "s.dispatchEvent(new Event('input'))"
    )
    await browser.stroke("paint", [(0.3, 0.5), (0.7, 0.5)])
    wide = await browser.canvas_png("paint")
    shown = await browser.js(
        "return document.getElementById('paint').getBoundingClientRect().height"
    )
    await browser.screenshot("painter-tools-desktop.png")

    assert _painted(both, 0.5, 0.3) and _painted(both, 0.5, 0.7)
    assert _painted(undone, 0.5, 0.3) and not _painted(undone, 0.5, 0.7)
    assert not _painted(erased, 0.5, 0.3) and _painted(erased, 0.25, 0.3)
    assert not any(_painted(cleared, x / 10, y / 10) for x in range(10) for y in range(10))
    reach = 60 / float(shown)  # 60 screen pixels from the stroke, within the 160 px brush
    assert _painted(wide, 0.5, 0.5 - reach) and _painted(wide, 0.5, 0.5 + reach)
    assert not _painted(wide, 0.5, 0.5 - 2 * reach)


async def test_the_page_says_why_a_submit_is_refused(painting: Painting, browser: Browser) -> None:
    job = await painting.result()
    await browser.open(await painting.link(job))
    await browser.wait_js(_LOADED)
    await browser.stroke("paint", [(0.3, 0.5), (0.7, 0.5)])
    await browser.type("prompt", "snow")
    painting.clock.offset = timedelta(minutes=16)  # the link lapses while the page is open

    await browser.click("submit")
    said = await browser.wait_js(
        "const s = document.getElementById('status');"
        "return s.classList.contains('error') ? s.textContent : null"
    )
    await browser.screenshot("painter-refused-desktop.png")

    assert said == (
        "This painting link has expired (links last 15 minutes). "
        "Press Edit region under the image again for a new link."
    )
    assert not await _submit_enabled(browser)  # a lapsed link cannot be tried again
    assert len(await painting.jobs()) == 1
