"""What the Discord handlers use (`Deps`, as Slack's handlers have theirs), built once by
`DiscordAdapter` and passed to each of them."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.discord.identity import AdminRule, DmPolicy
from adapters.discord.refs import TokenPolicy
from adapters.media_fetch import MediaFetcher
from core.admin import AdminService
from core.engine import Engine
from core.live_catalog import LiveCatalog
from core.painting import Painter
from core.ports import Clock


@dataclass(frozen=True)
class Deps:
    engine: Engine
    models: LiveCatalog  # the catalog in use (refreshed prices swap it there)
    admin: AdminService
    fetcher: MediaFetcher
    clock: Clock
    rule: AdminRule
    tokens: TokenPolicy
    max_input_bytes: int
    message_content: bool
    dms: DmPolicy  # what a DM counts as (FALBOT_DISCORD_DMS)
    painter: Painter | None = None  # the region painter's links (Edit region)
