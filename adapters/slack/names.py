"""People's and the workspace's names from Slack, for what is drawn (a chart cannot mention)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import aiohttp
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

_FAILED = (SlackClientError, aiohttp.ClientError, TimeoutError)


async def user_names(client: AsyncWebClient, user_ids: Iterable[str]) -> dict[str, str]:
    """Display names by user id (`users.info`); one Slack cannot give is left out."""
    found = {}
    for user_id in user_ids:
        try:
            user = (await client.users_info(user=user_id)).get("user") or {}
        except _FAILED as exc:
            log.warning("users.info failed for %s: %s", user_id, type(exc).__name__)
            continue
        profile = user.get("profile") or {}
        name = profile.get("display_name") or user.get("real_name") or user.get("name")
        if name:
            found[user_id] = str(name)
    return found


async def team_name(client: AsyncWebClient, team_id: str) -> str | None:
    """The workspace's name (`team.info`), or None when Slack cannot say."""
    try:
        team = (await client.team_info(team=team_id)).get("team") or {}
    except _FAILED as exc:
        log.warning("team.info failed: %s", type(exc).__name__)
        return None
    name = team.get("name")
    return str(name) if name else None
