"""The region painter's routes on falbot's public HTTP server (`bot.http`), with the app built
by the composition root on the fal simulator and the console as the chat: `/edit region JOB`
makes the link. Time is real time plus an offset the test moves (for lapsed links)."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from adapters.console import ConsoleReplyFactory, ConsoleSession, Terminal
from adapters.fal.simulator import FalSimulator
from adapters.web import PaintRoutes, RateLimit
from bot.app import App, build_app
from bot.clock import SystemClock
from bot.http import Health, HttpServer
from bot.settings import Settings
from core.jobs import Job
from tests.integration.fal.fixtures import SIM_KEY

LINK = re.compile(r"http://127\.0\.0\.1:\d+/paint/[A-Za-z0-9_-]{43}")


class ShiftedClock:
    """Real time plus an offset the test moves."""

    def __init__(self) -> None:
        self._real = SystemClock()
        self.offset = timedelta(0)

    def monotonic(self) -> float:
        return self._real.monotonic() + self.offset.total_seconds()

    def now(self) -> datetime:
        return self._real.now() + self.offset

    async def sleep(self, seconds: float) -> None:
        await self._real.sleep(seconds)


@dataclass
class Painting:
    app: App
    sim: FalSimulator
    session: ConsoleSession
    screen: io.StringIO
    clock: ShiftedClock
    base: str
    http: aiohttp.ClientSession

    async def result(self, prompt: str = "a lighthouse") -> Job:
        """A delivered image, made from the console."""
        assert await self.session.handle(f"/imagine --model flux-schnell {prompt}")
        assert await self.session.wait()
        return (await self.app.engine.jobs(self.session.actor, limit=1))[0]

    async def link(self, job: Job, image: int | None = None) -> str:
        """`/edit region JOB [IMAGE]` on the console; the link it prints."""
        tail = "" if image is None else f" {image}"
        assert await self.session.handle(f"/edit region {job.short_id}{tail}")
        found = LINK.findall(self.screen.getvalue())
        assert found, self.screen.getvalue()[-500:]
        return str(found[-1])

    async def post(self, url: str, body: Any) -> tuple[int, dict[str, Any]]:
        data = body if isinstance(body, bytes | str) else None
        kwargs: dict[str, Any] = {"data": data} if data is not None else {"json": body}
        if data is not None:
            kwargs["headers"] = {"Content-Type": "application/json"}
        async with self.http.post(url, **kwargs) as response:
            return response.status, await response.json()

    async def get(self, url: str) -> tuple[int, str, dict[str, str]]:
        async with self.http.get(url) as response:
            return response.status, await response.text(), dict(response.headers)

    async def jobs(self) -> list[Job]:
        return await self.app.engine.jobs(self.session.actor, limit=50)


def mask_png(size: tuple[int, int], *, box: tuple[int, int, int, int] | None = None) -> bytes:
    """A mask the page would send: black, white inside `box`."""
    image = Image.new("L", size, 0)
    if box is not None:
        image.paste(255, box)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def size_of(job: Job) -> tuple[int, int]:
    assert job.result is not None
    out = job.result.outputs[0]
    assert out.width and out.height
    return out.width, out.height


async def open_painting(
    tmp_path: Path, sim: FalSimulator, *, per_token: int = 60, per_address: int = 120
) -> tuple[Painting, HttpServer]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        FAL_KEY=SIM_KEY,
        FALBOT_DATABASE=f"sqlite:///{tmp_path / 'falbot.db'}",
        FALBOT_FAL_QUEUE_URL=sim.queue_url,
        FALBOT_FAL_REST_URL=sim.rest_url,
        FALBOT_FAL_CDN_URL=sim.cdn_url,
        FALBOT_PRICING_REFRESH=False,
        FALBOT_PROGRESS_INTERVAL=0.1,
    )
    clock = ShiftedClock()
    app = await build_app(settings, clock=clock)
    screen = io.StringIO()
    terminal = Terminal(screen, tty=False)
    app.add_reply_factory(ConsoleReplyFactory(terminal=terminal, out_dir=tmp_path / "out"))
    await app.engine.start()
    server = HttpServer(host="127.0.0.1", port=0, health=Health(database=_fine))
    routes = PaintRoutes(
        app.painter,
        per_token=RateLimit(limit=per_token, window=60.0),
        per_address=RateLimit(limit=per_address, window=60.0),
    )
    server.add_routes(routes.add_routes)
    await server.start()
    base = f"http://127.0.0.1:{server.port}"
    app.painter.serve_at(base)
    session = ConsoleSession(
        engine=app.engine,
        admin=app.admin,
        terminal=terminal,
        out_dir=tmp_path / "out",
        max_input_bytes=settings.max_input_bytes,
        painter=app.painter,
    )
    http = aiohttp.ClientSession()
    return Painting(app, sim, session, screen, clock, base, http), server


async def _fine() -> None:
    """Nothing to probe."""


@pytest.fixture
async def painting(tmp_path: Path, fal_sim: FalSimulator) -> AsyncIterator[Painting]:
    opened, server = await open_painting(tmp_path, fal_sim)
    try:
        yield opened
    finally:
        await opened.http.close()
        await server.close()
        await opened.app.close()
