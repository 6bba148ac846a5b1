"""The whole stack for Discord: the real discord.py logged in against the loopback fake Discord,
the app built by `bot.app.build_app` (SQLite, fal-client on the fal simulator, the engine), and
the Discord adapter. Every server, client and task is closed at the end of each test."""

from __future__ import annotations

import io
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from adapters.discord import DiscordAdapter, point_discord_at
from adapters.fal.simulator import FalSimulator
from bot.app import App, build_app
from bot.clock import SystemClock
from bot.discord_adapter import discord_adapter
from bot.settings import Settings
from core.ports import Clock
from tests.fakes.discord import FakeDiscord, Issued, Person, Recorded
from tests.fakes.discord import payloads as p
from tests.integration.fal.fixtures import SIM_KEY, running_fal_simulator

EPHEMERAL = 64
# The buttons under one image (emoji for the pans, which have no label).
ONE_IMAGE = frozenset(
    {
        *("Vary (Subtle)", "Vary (Strong)", "Rerun"),
        *("Upscale (Subtle)", "Upscale (Creative)", "Animate"),
        *("Zoom Out 2×", "Zoom Out 1.5×", "Edit", "Edit region"),
        *("⬅️", "➡️", "⬆️", "⬇️", "Delete"),
    }
)
ADMIN_ROLE = "falbot-admin"


def png(width: int = 64, height: int = 48, color: str = "orange") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def noisy_png(width: int, height: int) -> bytes:
    """A PNG that does not compress: its size is about width × height × 3 bytes."""
    noise = random.Random(width * 7919 + height).randbytes(width * height * 3)
    buf = io.BytesIO()
    Image.frombytes("RGB", (width, height), noise).save(buf, "PNG")
    return buf.getvalue()


class ShiftedClock:
    """Real time plus an offset the test moves (for the interaction token's lifetime)."""

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
class Bot:
    app: App
    adapter: DiscordAdapter


@dataclass
class Env:
    """One fake Discord, one fal simulator, one database; bots started (and restarted) on them."""

    fake: FakeDiscord
    sim: FalSimulator
    db: Path
    bots: list[Bot] = field(default_factory=list)
    alice: Person = field(init=False)
    bob: Person = field(init=False)
    mod: Person = field(init=False)
    helper: Person = field(init=False)

    def __post_init__(self) -> None:
        f = self.fake
        mods = f.add_role(None, "Moderators", permissions=p.MANAGE_GUILD)
        helpers = f.add_role(None, ADMIN_ROLE)
        self.alice = f.add_person("alice")
        self.bob = f.add_person("bob")
        self.mod = f.add_person("mod", roles=[mods])
        self.helper = f.add_person("helper", roles=[helpers])

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "FAL_KEY": SIM_KEY,
            "DISCORD_TOKEN": self.fake.bot_token,
            "FALBOT_DATABASE": f"sqlite:///{self.db}",
            "FALBOT_PROGRESS_INTERVAL": 0.1,
            "FALBOT_MEDIA_HOSTS": self.fake.cdn_host,
            "FALBOT_DISCORD_API_URL": self.fake.api_url,
            "FALBOT_DISCORD_GATEWAY_URL": self.fake.gateway_url,
            "FALBOT_FAL_QUEUE_URL": self.sim.queue_url,
            "FALBOT_FAL_REST_URL": self.sim.rest_url,
            "FALBOT_FAL_CDN_URL": self.sim.cdn_url,
            "FALBOT_ADMIN_ROLE": ADMIN_ROLE,
            "FALBOT_MAX_INPUT_BYTES": 2 * 1024 * 1024,
            # Jobs start without a quote unless a test is about quotes (tests/…/test_quotes.py).
            "FALBOT_CONFIRM_ABOVE_USD": None,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    async def start_bot(
        self,
        *,
        clock: Clock | None = None,
        adapter_clock: Clock | None = None,
        settings: dict[str, Any] | None = None,
        **adapter_options: Any,
    ) -> Bot:
        """Build the app as `falbot run` does, start the engine with the Discord replies wired
        in, connect the adapter, and register the commands once."""
        config = self.settings(**(settings or {}))
        app = await build_app(config, clock=clock)
        try:
            adapter = discord_adapter(
                app,
                clock=adapter_clock or app.clock,
                guild_ready_timeout=0.01,
                **adapter_options,
            )
            app.add_reply_factory(adapter.reply_factory)
            await app.engine.start()
            bot = Bot(app, adapter)
            self.bots.append(bot)
            await adapter.start()
        except BaseException:
            if not self.bots or self.bots[-1].app is not app:
                await app.close()
            raise
        if not self.fake.commands:
            await adapter.sync_commands()
        return bot

    async def stop_bot(self, bot: Bot) -> None:
        if bot in self.bots:
            self.bots.remove(bot)
            await bot.adapter.close()
            await bot.app.close()

    async def close(self) -> None:
        for bot in reversed(list(self.bots)):
            await self.stop_bot(bot)

    # driving Discord as its users would

    async def slash(self, person: Person, name: str, **kwargs: Any) -> Issued:
        return await self.fake.send_interaction(self.fake.slash(person, name, **kwargs))

    async def callback(self, issued: Issued) -> Recorded:
        return await self.fake.callback(issued)

    async def final_edit(self, issued: Issued, *, timeout: float = 10.0) -> Recorded:
        """The edit of the interaction's message that carries the result (it has buttons)."""
        return await self.fake.wait_for(
            lambda r: (
                r.method == "PATCH"
                and issued.token in r.path
                and r.status == 200
                and bool((r.json or {}).get("components"))
            ),
            timeout=timeout,
        )

    def edits(self, issued: Issued) -> list[Recorded]:
        return [
            r
            for r in self.fake.requests
            if r.method == "PATCH" and issued.token in r.path and r.status == 200
        ]

    async def release_when_running(self, count: int = 1) -> None:
        """Let held fal requests finish once `count` of them are running."""
        await self.sim.wait_for(lambda: self.sim.running >= count)
        self.sim.release()

    async def output_bytes(self, url: str) -> bytes:
        path = url.split("/cdn/files/", 1)[1]
        return await self.sim.files[path].read()


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    fake = FakeDiscord()
    await fake.start()
    try:
        async with running_fal_simulator() as sim:
            environment = Env(fake=fake, sim=sim, db=tmp_path / "falbot.db")
            try:
                yield environment
            finally:
                await environment.close()
    finally:
        await fake.close()
        point_discord_at(api_url=None, gateway_url=None)  # discord.py's globals back to Discord
