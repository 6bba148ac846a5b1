"""The whole Slack side of falbot on loopback: fake Slack ⇄ real slack-bolt/slack_sdk ⇄ the Slack
adapter ⇄ the real engine on SQLite ⇄ a fal gateway."""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from PIL import Image

from adapters.media_fetch import MediaFetcher
from adapters.slack import SlackAdapter
from adapters.sqlite.store import SqliteStore
from bot.clock import SystemClock
from core.admin import AdminService
from core.catalog import build_catalog
from core.engine import Engine, EngineConfig
from core.jobs import Actor, Job, JobState
from core.ports import FalGateway
from core.quota import BucketLimits
from tests.fakes.fal import png_bytes
from tests.fakes.slack import FakeSlack, SignedSender
from tests.fakes.slack import payloads as p

BOT_TOKEN = "xoxb-1111-2222-falbottesttoken"
APP_TOKEN = "xapp-1-A0001-3333-falbotapptoken"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T0001"
CHANNEL = "C0001"
ANN = "UANN"  # an ordinary member
BOSS = "UBOSS"  # a Slack workspace admin (users.info is_admin)
CONFIGURED = "UCFG"  # an admin by FALBOT_ADMIN_USER_IDS
MAX_INPUT_BYTES = 1024 * 1024

Mode = Literal["http", "socket"]


def png(width: int = 64, height: int = 64, color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def new_fake() -> FakeSlack:
    fake = FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN, team_id=TEAM)
    fake.add_user(ANN, name="ann")
    fake.add_user(BOSS, name="boss", is_admin=True)
    fake.add_user(CONFIGURED, name="cfg")
    return fake


@dataclass
class SlackStack:
    fake: FakeSlack
    store: SqliteStore
    fal: FalGateway
    engine: Engine
    admin: AdminService
    fetcher: MediaFetcher
    adapter: SlackAdapter
    mode: Mode
    sender: SignedSender | None = None
    runner: web.AppRunner | None = None
    url: str = ""
    _closed: bool = field(default=False, repr=False)

    @classmethod
    async def open(
        cls,
        fake: FakeSlack,
        fal: FalGateway,
        db_path: Path,
        *,
        mode: Mode = "http",
        capacity: Decimal = Decimal(100),
        refill_per_hour: Decimal = Decimal(50),
    ) -> SlackStack:
        store = await SqliteStore.open(db_path)
        engine = Engine(
            store=store,
            fal=fal,
            clock=SystemClock(),
            catalog=build_catalog(),
            config=EngineConfig(
                default_limits=BucketLimits(capacity, refill_per_hour),
                progress_interval=0.05,
            ),
        )
        admin = AdminService(engine=engine, clock=SystemClock())
        fetcher = MediaFetcher(allowed_hosts=[fake.host], max_bytes=MAX_INPUT_BYTES)
        adapter = SlackAdapter(
            engine=engine,
            admin=admin,
            fetcher=fetcher,
            bot_token=BOT_TOKEN,
            signing_secret=SIGNING_SECRET,
            app_token=APP_TOKEN if mode == "socket" else None,
            api_url=fake.api_url,
            admin_user_ids={CONFIGURED},
            shutdown_grace=2.0,
        )
        engine.add_reply_factory(adapter.reply_factory)
        stack = cls(fake, store, fal, engine, admin, fetcher, adapter, mode)
        try:
            await engine.start()
            if mode == "http":
                stack.runner = web.AppRunner(adapter.web_app(), handle_signals=False)
                await stack.runner.setup()
                site = web.TCPSite(stack.runner, "127.0.0.1", 0)
                await site.start()
                port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
                stack.url = f"http://127.0.0.1:{port}/slack/events"
                stack.sender = SignedSender(stack.url, SIGNING_SECRET)
            else:
                await adapter.start_socket_mode()
                await fake.wait_socket_connected()
        except BaseException:
            await stack.close()
            raise
        return stack

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.sender is not None:
            await self.sender.close()
        if self.runner is not None:
            await self.runner.cleanup()
        await self.adapter.close()
        await self.engine.stop()
        await self.fetcher.aclose()
        await self.store.close()

    async def quiesce(self) -> None:
        """Stop the adapter once its running work is done; the engine and store stay readable.
        What was not started by now never will be."""
        await self.adapter.close()

    # ---- what users do

    async def command(self, command: str, text: str, *, user: str = ANN) -> Any:
        """Run a slash command; over HTTP returns the answer, over Socket Mode the ack."""
        form = p.slash_command(
            command,
            text,
            team_id=TEAM,
            user_id=user,
            channel_id=CHANNEL,
            response_url=self.fake.response_url(),
        )
        return await self._send("slash_commands", form, form=True)

    async def event(self, event: dict[str, Any], *, event_id: str | None = None) -> Any:
        return await self._send(
            "events_api", p.event_callback(event, team_id=TEAM, event_id=event_id)
        )

    async def interaction(self, payload: dict[str, Any]) -> Any:
        return await self._send("interactive", payload)

    async def _send(self, kind: str, body: dict[str, Any], *, form: bool = False) -> Any:
        if self.mode == "socket":
            envelope_id = await self.fake.socket_send(kind, body)
            return await self.fake.wait_ack(envelope_id)
        assert self.sender is not None
        if form:
            return await self.sender.command(body)
        if kind == "events_api":
            return await self.sender.event(body)
        return await self.sender.interaction(body)

    async def timed_command(self, command: str, text: str, *, user: str = ANN) -> tuple[Any, float]:
        started = time.monotonic()
        answer = await self.command(command, text, user=user)
        return answer, time.monotonic() - started

    def delivered_bytes(self) -> bytes:
        """The bytes fal serves for an output."""
        return png_bytes()

    async def jobs_of(self, user: str) -> list[Job]:
        return await self.engine.jobs(Actor("slack", TEAM, user), limit=50)

    async def wait_delivered(self, user: str, count: int = 1, timeout: float = 5.0) -> None:
        """Until `count` of the user's jobs are recorded as delivered (a store state, polled)."""
        async with asyncio.timeout(timeout):
            while True:
                jobs = await self.jobs_of(user)
                if sum(j.state is JobState.DELIVERED for j in jobs) >= count:
                    return
                await asyncio.sleep(0.01)

    async def credits_of(self, user: str) -> Decimal:
        return (await self.engine.quota(Actor("slack", TEAM, user))).level
