"""Starting a job from Slack: post its message first, so the job's reply_ref can name it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render
from adapters.slack.reply import ReplyRef, SlackReply
from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.jobs import Actor, Job, JobRequest

log = logging.getLogger(__name__)

RequestBuilder = Callable[[Mapping[str, Any]], JobRequest]
_NOT_HERE = frozenset({"not_in_channel", "channel_not_found", "is_archived", "restricted_action"})


class Starter:
    def __init__(self, client: AsyncWebClient, engine: Engine) -> None:
        self._client = client
        self._engine = engine

    async def start(
        self,
        *,
        actor: Actor,
        channel: str,
        thread_ts: str | None,
        prompt: str,
        what: str,
        build: RequestBuilder,
    ) -> Job:
        """Post the job's message (in `thread_ts`, or as a new message whose thread takes the
        results), then submit. A refused job's message is removed again and the error raised."""
        text, blocks = render.starting(actor.user_id, prompt, what)
        try:
            posted = await self._client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=text, blocks=blocks
            )
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if error in _NOT_HERE:
                raise BotError(
                    ErrorCode.NOT_ALLOWED,
                    "I can't post in this conversation.",
                    hint="Invite me first (/invite @falbot), or use me in a channel I'm in.",
                ) from None
            raise
        ts = str(posted["ts"])
        ref = ReplyRef(
            channel=channel, thread_ts=thread_ts or ts, message_ts=ts, user_id=actor.user_id
        )
        try:
            request = build(ref.to_dict())
            reply = SlackReply(self._client, ref, prompt=prompt, model=request.model)
            return await self._engine.submit(request, reply)
        except Exception:
            await self._remove(channel, ts)
            raise

    async def _remove(self, channel: str, ts: str) -> None:
        try:
            await self._client.chat_delete(channel=channel, ts=ts)
        except SlackApiError as exc:
            log.warning("could not remove a refused job's message: %s", exc.response.get("error"))
