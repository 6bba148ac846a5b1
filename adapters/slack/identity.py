"""Slack team and user → core `Actor`, with admin rights checked on every call."""

from __future__ import annotations

import logging
from collections.abc import Collection

import aiohttp
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.context import Origin
from core.jobs import Actor

log = logging.getLogger(__name__)

PLATFORM = "slack"


class Identities:
    """A falbot admin is a configured admin user id, or a Slack workspace admin or owner."""

    def __init__(self, client: AsyncWebClient, *, admin_user_ids: Collection[str]) -> None:
        self._client = client
        self._admins = frozenset(admin_user_ids)

    async def actor(self, origin: Origin) -> Actor:
        return Actor(
            platform=PLATFORM,
            workspace_id=origin.team_id,
            user_id=origin.user_id,
            roles=(),
            is_admin=await self.is_admin(origin.user_id),
            name=origin.user_name,
        )

    async def is_admin(self, user_id: str) -> bool:
        if user_id in self._admins:
            return True
        try:
            resp = await self._client.users_info(user=user_id)
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            # Not knowing means not an admin: refuse rather than grant.
            log.warning("users.info failed for %s: %s", user_id, type(exc).__name__)
            return False
        user = resp.get("user") or {}
        return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
