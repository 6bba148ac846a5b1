"""`falbot run`: the configured chat platforms and the HTTP server, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from contextlib import AsyncExitStack
from typing import Any

from aiohttp import web

from bot.app import App, build_app
from bot.settings import Settings

log = logging.getLogger(__name__)


async def run(settings: Settings, *, ready: asyncio.Event | None = None) -> int:
    """Serve until a stop signal; `ready` is set once everything is up (tests wait on it)."""
    app = await build_app(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(app.close)
        http = web.Application()
        http.router.add_get("/healthz", _healthz(app))
        platforms = await _platforms(app, settings, http, stack)
        await app.engine.start()
        runner = web.AppRunner(http, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "0.0.0.0", settings.http_port)
        await site.start()
        for start in platforms:
            await start()
        log.info(
            "falbot is running",
            extra={"falbot": {"event": "started", "http_port": settings.http_port}},
        )
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("stopping")
    return 0


async def _platforms(
    app: App, settings: Settings, http: web.Application, stack: AsyncExitStack
) -> list[Any]:
    """Build each configured platform adapter; return the coroutines that connect them."""
    starts: list[Any] = []
    if settings.slack_bot_token and settings.slack_signing_secret:
        from adapters.slack import SlackAdapter

        slack = SlackAdapter(
            engine=app.engine,
            admin=app.admin,
            fetcher=app.fetcher,
            bot_token=settings.slack_bot_token.get_secret_value(),
            signing_secret=settings.slack_signing_secret.get_secret_value(),
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
        else:
            slack.add_routes(http)
    if settings.discord_token:
        from adapters.discord import DiscordAdapter

        discord = DiscordAdapter(
            engine=app.engine,
            admin=app.admin,
            fetcher=app.fetcher,
            token=settings.discord_token.get_secret_value(),
            api_url=settings.discord_api_url,
            gateway_url=settings.discord_gateway_url,
            admin_role=settings.admin_role,
            message_content=settings.discord_message_content,
        )
        stack.push_async_callback(discord.close)
        app.engine.add_reply_factory(discord.reply_factory)
        app.extras["discord"] = discord
        starts.append(discord.start)
    return starts


def _healthz(app: App) -> Any:
    async def handler(request: web.Request) -> web.Response:
        try:
            await app.store.policy("healthz")
        except Exception:
            return web.json_response({"ok": False, "database": "unreachable"}, status=503)
        return web.json_response(
            {"ok": True, "waiting": app.engine.waiting, "at_fal": app.engine.at_fal}
        )

    return handler


async def sync_commands(settings: Settings, *, guild: str | None) -> int:
    """Register Discord's application commands, globally or in one guild."""
    if not settings.discord_token:
        print("DISCORD_TOKEN is not set.")
        return 2
    app = await build_app(settings)
    try:
        from adapters.discord import DiscordAdapter

        discord = DiscordAdapter(
            engine=app.engine,
            admin=app.admin,
            fetcher=app.fetcher,
            token=settings.discord_token.get_secret_value(),
            api_url=settings.discord_api_url,
            gateway_url=settings.discord_gateway_url,
            admin_role=settings.admin_role,
            message_content=settings.discord_message_content,
        )
        try:
            count = await discord.sync_commands(guild_id=guild)
        finally:
            await discord.close()
        print(f"Registered {count} commands {'in guild ' + guild if guild else 'globally'}.")
        return 0
    finally:
        await app.close()
