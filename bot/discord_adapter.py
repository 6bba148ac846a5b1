"""The Discord adapter as `falbot run` builds it: plain values from the settings, and the
services it uses from the app (the adapter never reads `bot.settings` itself)."""

from __future__ import annotations

from typing import Any

from adapters.discord import DiscordAdapter
from bot.app import App


def discord_adapter(app: App, **overrides: Any) -> DiscordAdapter:
    settings = app.settings
    if settings.discord_token is None:
        raise ValueError("DISCORD_TOKEN is not set")
    values: dict[str, Any] = {
        "token": settings.discord_token.get_secret_value(),
        "api_url": settings.discord_api_url,
        "gateway_url": settings.discord_gateway_url,
        "admin_role": settings.admin_role,
        "admin_user_ids": settings.admin_user_id_set,
        "message_content": settings.discord_message_content,
        "max_input_bytes": settings.max_input_bytes,
        "dms": settings.discord_dms,
        "clock": app.clock,
        "painter": app.painter,
    }
    shards = settings.discord_shard_plan
    if shards is not None:
        values.update(shard_ids=shards.ids, shard_count=shards.count)
    values.update(overrides)
    return DiscordAdapter(
        engine=app.engine,
        models=app.engine.live_catalog,
        admin=app.admin,
        fetcher=app.fetcher,
        **values,
    )
