"""What the Slack handlers share: built once by `SlackAdapter`, passed to each handler."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.context import Answers
from adapters.slack.files import SlackFiles
from adapters.slack.identity import Identities
from adapters.slack.submit import Starter
from core.admin import AdminService
from core.engine import Engine
from core.live_catalog import LiveCatalog
from core.painting import Painter


@dataclass(frozen=True)
class Deps:
    client: AsyncWebClient
    engine: Engine
    models: LiveCatalog  # the catalog in use (refreshed prices swap it there)
    admin: AdminService
    identities: Identities
    answers: Answers
    files: SlackFiles
    starter: Starter
    painter: Painter | None = None  # the region painter's links (Edit region)
