"""What the Discord handlers use, built once by `DiscordAdapter` and passed to each of them."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from adapters.discord.identity import AdminRule, DmPolicy
from adapters.discord.refs import TokenPolicy
from adapters.media_fetch import MediaFetcher
from core.admin import AdminService
from core.engine import Engine
from core.model_table import ModelTable
from core.ports import Clock


@dataclass(frozen=True)
class Services:
    engine: Engine
    models: ModelTable  # the catalog in use (refreshed prices swap it there)
    admin: AdminService
    fetcher: MediaFetcher
    clock: Clock
    rule: AdminRule
    tokens: TokenPolicy
    max_input_bytes: int
    message_content: bool
    dms: DmPolicy  # what a DM counts as (FALBOT_DISCORD_DMS)


class WallClock:
    """The real time, when the composition root passes no clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
