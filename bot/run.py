"""`falbot run`: the configured chat platforms and the HTTP server, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.postgres import PostgresStore
from adapters.web import PaintRoutes
from bot.app import App, build_app, keep_prices_fresh
from bot.http import Health, HttpLimits, HttpServer, MetricsServer
from bot.metrics import Metrics
from bot.settings import Settings, shards_alone
from bot.store import database_probe
from core.tasks import OwnedTasks

if TYPE_CHECKING:
    from adapters.slack import SlackAdapter

log = logging.getLogger(__name__)

# Seconds a stop waits for submits, settlements and deliveries under way (exit within 10 s).
DRAIN_GRACE = 4.0
# Seconds between two checks of the Slack token in HTTP mode (Slack calls us, so nothing else
# would notice a revoked token before a person does).
SLACK_CHECK_EVERY = 300.0


class StartFailed(Exception):
    """A platform could not start. The message is one line for a person: what went wrong and
    what to do."""


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
        health = Health(
            database=database_probe(app.store),
            circuit=lambda: engine.circuit_state,
            process=process_facts(app),
        )
        server = HttpServer(
            host=settings.http_host,
            port=settings.http_port,
            health=health,
            limits=_limits(settings),
        )
        platforms = _platforms(app, settings, server, health, stack)
        if app.webhook is not None:  # FALBOT_PUBLIC_URL: fal's webhooks at /fal/webhook
            server.add_routes(app.webhook.add_routes)
        server.add_routes(PaintRoutes(app.painter).add_routes)  # the region painter's page
        await app.engine.start()
        app.engine.keep_dedupe_pruned()
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
        if "discord" in app.extras:
            await _register_discord_commands(app)
        if slack_mode(settings) == "http":
            checks = OwnedTasks()
            stack.push_async_callback(checks.close)
            checks.spawn(keep_checking_slack(app.extras["slack"]), name="falbot-slack-check")
        # What starting built (modules, the catalog, the clients) lives as long as the process:
        # out of the collector's way, its full passes no longer walk it again and again.
        gc.freeze()
        log.info(
            "falbot is running",
            extra={"falbot": {"event": "started", "http_port": server.port}},
        )
        yield Running(app, server, metrics, health, metrics_server)


def process_facts(app: App) -> Callable[[], dict[str, str]]:
    """For /healthz: which process this is and, on a shared line, whether it holds its jobs
    (its leases renewed in time) and hears the line's wake-ups."""
    store, engine = app.store, app.engine
    local = f"{socket.gethostname()}-{os.getpid()}"

    def facts() -> dict[str, str]:
        leases = engine.leases
        if leases is None or not isinstance(store, PostgresStore):
            return {"instance": local, "line": "local"}
        return {
            "instance": store.instance,
            "line": "shared",
            "leases": "held" if leases.held() else "lapsed",
            "wake_ups": "listening" if store.listening else "polling",
        }

    return facts


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
    if slack_mode(settings) is not None and settings.slack_bot_token is not None:
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
            models=app.engine.live_catalog,
            painter=app.painter,
        )
        stack.push_async_callback(slack.close)
        app.add_reply_factory(slack.reply_factory)
        app.extras["slack"] = slack
        starts.append(_explained("Slack", slack.verify))  # auth.test: is the token good?
        if settings.slack_app_token:
            starts.append(_explained("Slack Socket Mode", slack.start_socket_mode))
        else:
            server.add_routes(slack.add_routes)
        # Socket Mode: the websocket is up; HTTP mode: Slack accepted the token.
        health.add_adapter("slack", lambda: slack.connected)
    if settings.discord_token:
        from bot.discord_adapter import discord_adapter

        alone = shards_alone(settings.discord_shard_plan, settings.database)
        if alone is not None:
            log.warning("%s", alone)
        discord = discord_adapter(app)
        stack.push_async_callback(discord.close)
        app.add_reply_factory(discord.reply_factory)
        app.extras["discord"] = discord
        starts.append(_explained("Discord", discord.start))
        client = discord.client
        health.add_adapter("discord", lambda: client.is_ready() and not client.is_closed())
    return starts


def slack_mode(settings: Settings) -> str | None:
    """How Slack will run: "socket" (SLACK_APP_TOKEN; no signing secret needed), "http"
    (SLACK_SIGNING_SECRET), or None (not configured)."""
    if settings.slack_bot_token is None:
        return None
    if settings.slack_app_token is not None:
        return "socket"
    return "http" if settings.slack_signing_secret is not None else None


def _explained(
    platform: str, start: Callable[[], Awaitable[None]]
) -> Callable[[], Awaitable[None]]:
    """`start`, with a failure turned into a StartFailed that says what to do."""

    async def starting() -> None:
        try:
            await start()
        except Exception as exc:
            reason = why_not_started(platform, exc)
            if reason is None:
                raise
            log.error("%s did not start: %s", platform, reason)
            raise StartFailed(reason) from None

    return starting


def why_not_started(platform: str, exc: BaseException) -> str | None:
    """One line for a platform that would not start, or None for an unexpected failure."""
    from bot.start_errors import explain

    return explain(platform, exc)


async def keep_checking_slack(
    slack: SlackAdapter,
    *,
    every: float = SLACK_CHECK_EVERY,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Ask Slack about the token every `every` seconds, so `/healthz` says whether Slack still
    accepts it; a change is logged once."""
    accepted = True
    while True:
        await sleep(every)
        try:
            await slack.verify()
        except Exception as exc:
            if accepted:
                reason = why_not_started("Slack", exc) or type(exc).__name__
                log.warning("Slack: the token check failed: %s", reason)
            accepted = False
        else:
            if not accepted:
                log.info("Slack: the token is accepted again")
            accepted = True


async def _register_discord_commands(app: App) -> None:
    """Discord's commands, registered when they differ from the last ones registered; a
    failure is said once and the bot runs on (the commands registered before still work)."""
    discord = app.extras["discord"]
    try:
        await discord.register_commands(app.store)
    except Exception as exc:
        log.warning(
            "Discord's commands could not be registered (%s); run `falbot sync-commands`",
            type(exc).__name__,
        )


async def sync_commands(settings: Settings, *, guild: str | None, clear: bool = False) -> int:
    """Register Discord's application commands, globally or in one guild (or, with `clear`,
    remove that guild's copies)."""
    if not settings.discord_token:
        print("DISCORD_TOKEN is not set: set it to your bot's token.", file=sys.stderr)
        return 2
    app = await build_app(settings)
    try:
        from bot.discord_adapter import discord_adapter

        discord = discord_adapter(app)
        try:
            count = await discord.sync_commands(guild_id=guild, state=app.store, clear=clear)
        except Exception as exc:
            reason = why_not_started("Discord", exc)
            if reason is None:
                raise
            print(reason, file=sys.stderr)
            return 1
        finally:
            await discord.close()
        if clear and guild:
            print(f"Removed falbot's commands from guild {guild}; the global ones stay.")
        else:
            print(f"Registered {count} commands {'in guild ' + guild if guild else 'globally'}.")
        return 0
    finally:
        await app.close()
