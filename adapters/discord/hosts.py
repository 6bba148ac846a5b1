"""Where discord.py sends its requests: the one place its base URLs are set."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

log = logging.getLogger(__name__)

DISCORD_API = "https://discord.com/api/v10"
DISCORD_GATEWAY = "wss://gateway.discord.gg/"


def point_discord_at(*, api_url: str | None, gateway_url: str | None) -> None:
    """Point discord.py's REST (`Route.BASE`, which interaction callbacks and the webhook adapter
    for followups and edits also build on) and its gateway (`DiscordWebSocket.DEFAULT_GATEWAY`)
    at the given base URLs; None means Discord's own.

    Both are class attributes, so this is process-wide: a process talks to one Discord.
    `api_url` may be a bare host (`https://proxy:8080`), in which case `/api/v10` is added.
    """
    api = (api_url or DISCORD_API).rstrip("/")
    if urlsplit(api).path in ("", "/"):
        api += "/api/v10"
    Route.BASE = api
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url or DISCORD_GATEWAY)
    if api_url or gateway_url:
        log.info("discord.py points at %s and %s", Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
