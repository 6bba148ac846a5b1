"""A real browser for the tests of falbot's web pages: Debian's headless `chromium`, driven by
Selenium through `chromium-driver` (never a downloaded browser). Missing, a test is skipped
with the reason; under CI (`CI` set), it fails. Selenium blocks, and the page is served by the
test's own event loop, so every call goes through a thread (`Browser`)."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PIL import Image

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DESKTOP = (1280, 900)
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}

T = TypeVar("T")


def _find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or (
            f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
        )
        if found:
            return found
    return None


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    if _find("chromium", "chromium-browser") is None:
        return "Debian's chromium is not installed (apt-get install chromium chromium-driver)"
    if _find("chromedriver") is None:
        return "chromium-driver is not installed (apt-get install chromium-driver)"
    return None


class Browser:
    """One headless Chromium window; each method runs Selenium off the event loop."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    async def _call(self, fn: Callable[[], T]) -> T:
        return await asyncio.to_thread(fn)

    async def open(self, url: str) -> None:
        await self._call(lambda: self.driver.get(url))

    async def js(self, script: str, *args: Any) -> Any:
        return await self._call(lambda: self.driver.execute_script(script, *args))

    async def wait_js(self, script: str, *, timeout: float = 10.0) -> Any:
        """Until `script` returns something true; that value."""
        async with asyncio.timeout(timeout):
            while True:
                value = await self.js(script)
                if value:
                    return value
                await asyncio.sleep(0.05)  # polling the page: there is no event to wait on

    async def text(self, element_id: str) -> str:
        return str(await self.js(f"return document.getElementById({element_id!r}).textContent"))

    async def type(self, element_id: str, text: str) -> None:
        from selenium.webdriver.common.by import By

        await self._call(lambda: self.driver.find_element(By.ID, element_id).send_keys(text))

    async def click(self, element_id: str) -> None:
        from selenium.webdriver.common.by import By

        await self._call(lambda: self.driver.find_element(By.ID, element_id).click())

    async def stroke(
        self, element_id: str, points: list[tuple[float, float]], *, touch: bool = False
    ) -> None:
        """Press, move through `points` (fractions of the element's shown box) and release,
        as a mouse or a finger would."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.actions import interaction
        from selenium.webdriver.common.actions.action_builder import ActionBuilder
        from selenium.webdriver.common.actions.pointer_input import PointerInput
        from selenium.webdriver.common.by import By

        def run() -> None:
            element = self.driver.find_element(By.ID, element_id)
            box = element.rect
            at = [
                (
                    round(x * box["width"] - box["width"] / 2),
                    round(y * box["height"] - box["height"] / 2),
                )
                for x, y in points
            ]
            if touch:
                finger = PointerInput(interaction.POINTER_TOUCH, "finger")
                builder = ActionBuilder(self.driver, mouse=finger)
                builder.pointer_action.move_to(element, *at[0]).pointer_down()
                for x, y in at[1:]:
                    builder.pointer_action.move_to(element, x, y)
                builder.pointer_action.pointer_up()
                builder.perform()
                return
            chain = ActionChains(self.driver, duration=20)
            chain.move_to_element_with_offset(element, *at[0]).click_and_hold()
            for x, y in at[1:]:
                chain.move_to_element_with_offset(element, x, y)
            chain.release().perform()

        await self._call(run)

    async def phone(self) -> None:
        """A phone-sized viewport with touch, as a phone's browser shows the page."""
        await self._call(
            lambda: self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
        )
        await self._call(
            lambda: self.driver.execute_cdp_cmd(
                "Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5}
            )
        )

    async def screenshot(self, name: str) -> Path:
        """The whole page as a PNG under tests/artifacts/ (ignored by git)."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        data = await self._call(self.driver.get_screenshot_as_png)
        path.write_bytes(data)
        return path

    async def canvas_png(self, element_id: str) -> Image.Image:
        """What a canvas holds, read back from the page."""
        uri = await self.js(f"return document.getElementById({element_id!r}).toDataURL()")
        return Image.open(io.BytesIO(base64.b64decode(str(uri).split(",", 1)[1])))


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    missing = _missing()
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the browser tests need a browser under CI: {missing}")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(_find("chromium", "chromium-browser"))
    for flag in (
        "--headless=new",
        "--no-sandbox",  # root in a container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",  # loopback only: no component updates, no pings
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
    ):
        options.add_argument(flag)
    service = Service(executable_path=str(_find("chromedriver")))
    driver = await asyncio.to_thread(lambda: webdriver.Chrome(service=service, options=options))
    try:
        yield Browser(driver)
    finally:
        await asyncio.to_thread(driver.quit)
