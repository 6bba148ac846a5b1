"""`falbot run`: the configured chat platforms and the HTTP server, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from adapters.sqlite.store import SqliteStore
from bot.app import App, build_app, keep_prices_fresh
from bot.http import Health, HttpLimits, HttpServer, MetricsServer
from bot.metrics import Metrics
from bot.settings import Settings
from core.tasks import OwnedTasks

log = logging.getLogger(__name__)

# Seconds a stop waits for submits, settlements and deliveries under way (exit within 10 s).
DRAIN_GRACE = 4.0


@dataclass(frozen=True)
class Running:
    """A started falbot: the app, its HTTP server (`server.port`) and its metrics (served on
    `metrics_server.port` when FALBOT_METRICS_PORT is set)."""

    app: App
    server: HttpServer
    metrics: Metrics
    health: Health
    metrics_server: MetricsServer | None = None


async def run(settings: Settings, *, ready: asyncio.Event | None = None) -> int:
    """Serve until a stop signal; `ready` is set once everything is up (tests wait on it)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with serving(settings) as running:
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("stopping")
        # New jobs are answered `busy` while work caught half-way settles; then all closes.
        await running.app.engine.drain(grace=DRAIN_GRACE)
    return 0


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Running]:
    """Build the app, connect the configured platforms and serve HTTP; close it all on exit."""
    app = await build_app(settings)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(app.close)
        metrics = Metrics()
        metrics.install()
        stack.callback(metrics.uninstall)
        metrics.watch_engine(app.engine)
        app.fal.observe_http(request=metrics.on_fal_request, response=metrics.on_fal_response)
        engine = app.engine
        health = Health(database=_database_probe(app.store), circuit=lambda: engine.circuit_state)
        server = HttpServer(
            host=settings.http_host,
            port=settings.http_port,
            health=health,
            limits=_limits(settings),
        )
        platforms = _platforms(app, settings, server, health, stack)
        if app.webhook is not None:  # FALBOT_PUBLIC_URL: fal's webhooks at /fal/webhook
            server.add_routes(app.webhook.add_routes)
        await app.engine.start()
        if settings.pricing_off is None and settings.fal_key is not None:
            background = OwnedTasks()
            stack.push_async_callback(background.close)
            background.spawn(keep_prices_fresh(engine, settings), name="falbot-prices")
        await server.start()
        stack.push_async_callback(server.close)
        metrics_server = None
        if settings.metrics_port is not None:
            metrics_server = MetricsServer(
                host=settings.metrics_host, port=settings.metrics_port, metrics=metrics
            )
            await metrics_server.start()
            stack.push_async_callback(metrics_server.close)
        for start in platforms:
            await start()
        log.info(
            "falbot is running",
            extra={"falbot": {"event": "started", "http_port": server.port}},
        )
        yield Running(app, server, metrics, health, metrics_server)


def _limits(settings: Settings) -> HttpLimits:
    return HttpLimits(
        idle_timeout=settings.http_idle_timeout,
        request_timeout=settings.http_request_timeout,
        max_connections=settings.http_max_connections,
        max_per_address=settings.http_max_per_address,
    )


def _platforms(
    app: App, settings: Settings, server: HttpServer, health: Health, stack: AsyncExitStack
) -> list[Callable[[], Awaitable[None]]]:
    """Build each configured platform adapter; return the coroutines that connect them."""
    starts: list[Callable[[], Awaitable[None]]] = []
    if settings.slack_bot_token and (settings.slack_signing_secret or settings.slack_app_token):
        from adapters.slack import SlackAdapter

        slack = SlackAdapter(
            engine=app.engine,
            admin=app.admin,
            fetcher=app.fetcher,
            bot_token=settings.slack_bot_token.get_secret_value(),
            signing_secret=settings.slack_signing_secret.get_secret_value()
            if settings.slack_signing_secret
            else None,
            app_token=settings.slack_app_token.get_secret_value()
            if settings.slack_app_token
            else None,
            api_url=settings.slack_api_url,
            admin_user_ids=settings.admin_user_id_set,
            claims=app.store,
        )
        stack.push_async_callback(slack.close)
        app.engine.add_reply_factory(slack.reply_factory)
        app.extras["slack"] = slack
        if settings.slack_app_token:
            starts.append(slack.start_socket_mode)
            health.add_adapter("slack", lambda: slack.connected)  # the Socket Mode websocket
        else:
            server.add_routes(slack.add_routes)
            health.add_adapter("slack", lambda: True)  # HTTP mode: Slack calls us
    if settings.discord_token:
        from adapters.discord import DiscordAdapter

        discord = DiscordAdapter.from_settings(
            settings, engine=app.engine, admin=app.admin, fetcher=app.fetcher, clock=app.clock
        )
        stack.push_async_callback(discord.close)
        app.engine.add_reply_factory(discord.reply_factory)
        app.extras["discord"] = discord
        starts.append(discord.start)
        client = discord.client
        health.add_adapter("discord", lambda: client.is_ready() and not client.is_closed())
    return starts


def _database_probe(store: SqliteStore) -> Callable[[], Awaitable[None]]:
    """One read through the store, and the file still where it was (a deleted or unmounted
    SQLite file keeps answering from the open connection, and loses every write)."""

    async def probe() -> None:
        if not store.path.exists():
            raise FileNotFoundError("the database file is gone")
        await store.policy("healthz")

    return probe


async def sync_commands(settings: Settings, *, guild: str | None) -> int:
    """Register Discord's application commands, globally or in one guild."""
    if not settings.discord_token:
        print("DISCORD_TOKEN is not set.")
        return 2
    app = await build_app(settings)
    try:
        from adapters.discord import DiscordAdapter

        discord = DiscordAdapter.from_settings(
            settings, engine=app.engine, admin=app.admin, fetcher=app.fetcher, clock=app.clock
        )
        try:
            count = await discord.sync_commands(guild_id=guild)
        finally:
            await discord.close()
        print(f"Registered {count} commands {'in guild ' + guild if guild else 'globally'}.")
        return 0
    finally:
        await app.close()
