"""The whole Slack side of falbot on loopback: fake Slack ⇄ real slack-bolt/slack_sdk ⇄ the Slack
adapter ⇄ the engine, store and fal gateway as `build_app` makes them ⇄ the fal simulator."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import aiohttp
from aiohttp import web
from PIL import Image

from adapters.fal.simulator import FalSimulator
from adapters.slack import SlackAdapter
from adapters.sqlite.store import SqliteStore
from bot.app import App, build_app
from bot.settings import Settings
from core.engine import Engine
from core.jobs import Actor, Job, JobState
from core.ports import Clock
from tests.fakes.slack import FakeSlack, SignedSender
from tests.fakes.slack import payloads as p
from tests.integration.fal.fixtures import SIM_KEY

BOT_TOKEN = "xoxb-1111-2222-falbottesttoken"
APP_TOKEN = "xapp-1-A0001-3333-falbotapptoken"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T0001"
CHANNEL = "C0001"
ANN = "UANN"  # an ordinary member
BOSS = "UBOSS"  # a Slack workspace admin (users.info is_admin)
CONFIGURED = "UCFG"  # an admin by FALBOT_ADMIN_USER_IDS
MAX_INPUT_BYTES = 1024 * 1024
# The action ids under a result of one image: its verbs, then Rerun, Edit and Delete.
ONE_IMAGE_ACTIONS = [
    *("falbot_vary_subtle", "falbot_vary_strong", "falbot_upscale", "falbot_upscale_creative"),
    *("falbot_zoom_2", "falbot_zoom_1.5", "falbot_pan_left", "falbot_pan_right"),
    *("falbot_pan_up", "falbot_pan_down", "falbot_animate"),
    *("falbot_rerun", "falbot_edit", "falbot_region", "falbot_delete"),
]

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


def settings_for(
    fake: FakeSlack,
    sim: FalSimulator,
    db_path: Path,
    *,
    mode: Mode,
    media_hosts: tuple[str, ...] = (),
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """What an operator would put in the environment, pointed at the loopback fakes."""
    values: dict[str, Any] = {
        "FAL_KEY": SIM_KEY,
        "FALBOT_DATABASE": f"sqlite:///{db_path}",
        "FALBOT_FAL_QUEUE_URL": sim.queue_url,
        "FALBOT_FAL_REST_URL": sim.rest_url,
        "FALBOT_FAL_CDN_URL": sim.cdn_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "FALBOT_SLACK_API_URL": fake.api_url,
        "FALBOT_MEDIA_HOSTS": ",".join((fake.host, *media_hosts)),
        "FALBOT_ADMIN_USER_IDS": CONFIGURED,
        "FALBOT_PROGRESS_INTERVAL": 0.1,
        "FALBOT_MAX_INPUT_BYTES": MAX_INPUT_BYTES,
        "FALBOT_HTTP_HOST": "127.0.0.1",
        "FALBOT_HTTP_PORT": 0,
        # Jobs start without a quote unless a test is about quotes (test_quotes.py).
        "FALBOT_CONFIRM_ABOVE_USD": None,
    }
    if mode == "socket":
        values["SLACK_APP_TOKEN"] = APP_TOKEN
    values.update(overrides or {})
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class SlackStack:
    fake: FakeSlack
    sim: FalSimulator
    app: App
    adapter: SlackAdapter
    mode: Mode
    sender: SignedSender | None = None
    runner: web.AppRunner | None = None
    url: str = ""
    _closed: bool = field(default=False, repr=False)

    @property
    def engine(self) -> Engine:
        return self.app.engine

    @property
    def store(self) -> SqliteStore:
        return self.app.store

    @classmethod
    async def open(
        cls,
        fake: FakeSlack,
        sim: FalSimulator,
        db_path: Path,
        *,
        mode: Mode = "http",
        media_hosts: tuple[str, ...] = (),
        clock: Clock | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> SlackStack:
        """Built by the composition root (`build_app`), with Slack wired as `falbot run` does;
        `media_hosts`: more hosts the bot may fetch user media from; `clock`: the engine's;
        `settings`: environment values over the test ones."""
        config = settings_for(
            fake, sim, db_path, mode=mode, media_hosts=media_hosts, overrides=settings
        )
        app = await build_app(config, clock=clock)
        assert config.slack_bot_token is not None
        adapter = SlackAdapter(
            engine=app.engine,
            admin=app.admin,
            fetcher=app.fetcher,
            bot_token=config.slack_bot_token.get_secret_value(),
            signing_secret=SIGNING_SECRET,
            app_token=APP_TOKEN if mode == "socket" else None,
            api_url=config.slack_api_url,
            admin_user_ids=config.admin_user_id_set,
            claims=app.store,
            models=app.engine.live_catalog,
            shutdown_grace=2.0,
            painter=app.painter,
        )
        app.add_reply_factory(adapter.reply_factory)
        stack = cls(fake, sim, app, adapter, mode)
        try:
            await app.engine.start()
            if mode == "http":
                http = web.Application()
                adapter.add_routes(http)
                stack.runner = web.AppRunner(http, handle_signals=False)
                await stack.runner.setup()
                site = web.TCPSite(stack.runner, "127.0.0.1", 0)
                await site.start()
                port = stack.runner.addresses[0][1]
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
        await self.app.close()  # the engine, the fal gateway, the fetcher, the store

    async def quiesce(self) -> None:
        """Stop the adapter once its running work is done; the engine and store stay readable.
        What was not started by now never will be."""
        await self.adapter.close()

    # ---- what users do

    async def command(
        self, command: str, text: str, *, user: str = ANN, channel: str = CHANNEL
    ) -> Any:
        """Run a slash command; over HTTP returns the answer, over Socket Mode the ack."""
        form = p.slash_command(
            command,
            text,
            team_id=TEAM,
            user_id=user,
            channel_id=channel,
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

    async def output_bytes(self, url: str) -> bytes:
        """What fal's CDN (the simulator) serves at an output URL."""
        async with aiohttp.ClientSession() as session, session.get(url) as resp:
            assert resp.status == 200
            return await resp.read()

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
