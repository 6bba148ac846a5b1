"""Where a request came from, and how to answer its sender privately."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack import render
from core.errors import BotError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Origin:
    """The team, user and conversation of one Slack request."""

    team_id: str
    user_id: str
    channel_id: str
    thread_ts: str | None = None
    response_url: str | None = None
    user_name: str = ""
    trigger_id: str | None = None  # a slash command's or interaction's: it may open a modal


class Answers:
    """Ephemeral answers: through the request's `response_url` when it has one (it works even
    in channels the bot is not in), else `chat.postEphemeral`."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def tell(self, origin: Origin, text: str, blocks: list[dict[str, Any]]) -> None:
        try:
            if origin.response_url:
                hook = AsyncWebhookClient(origin.response_url)
                resp = await hook.send(
                    text=text, blocks=blocks, response_type="ephemeral", replace_original=False
                )
                if resp.status_code == 200:
                    return
                log.warning("response_url answered %s; falling back", resp.status_code)
            await self._client.chat_postEphemeral(
                channel=origin.channel_id,
                user=origin.user_id,
                text=text,
                blocks=blocks,
                thread_ts=origin.thread_ts,
            )
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("could not answer user %s: %s", origin.user_id, type(exc).__name__)

    async def text(self, origin: Origin, text: str) -> None:
        await self.tell(origin, *render.answer(text))

    async def error(self, origin: Origin, err: BotError) -> None:
        text, blocks = render.error(err)
        await self.tell(origin, text, blocks)
