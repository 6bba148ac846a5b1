"""Starting a job from Slack: admit it first, then post its message and name it in the job."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render
from adapters.slack.quotes import post_quote
from adapters.slack.reply import ReplyRef, SlackReply
from core.commands import Command, Generate
from core.confirmations import PriceQuote, QuoteFirst
from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.jobs import Actor, Channel, Job
from core.privacy import private_for

log = logging.getLogger(__name__)

# Slack marks no channel NSFW and has no spoilers: core refuses a flagged image Slack would not
# show, and withholds what it would have spoilered.
SLACK_CHANNEL = Channel(nsfw=False, spoilers=False)


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
        command: Command,
        confirming: PriceQuote | None = None,
        parent_url: str = "",
    ) -> Job | None:
        """Submit the job, and only once it is admitted post its message (in `thread_ts`, or as
        a new message whose thread takes the results) and store where it is. A refusal raises
        before anything public is said; a crash before the message is named leaves a job whose
        reply posts a new message when it next shows progress. The job may start only once its
        message is named, so a refused post withdraws it before fal ever sees it.

        Above the workspace's price threshold the requester gets its quote instead (None);
        `confirming`: the quote whose Confirm this is (`command` is its command). `parent_url`:
        the link to the result a follow-up was made from, for the child's footer."""
        asked_in = {"channel": channel, "thread_ts": thread_ts, "prompt": prompt, "what": what}
        if parent_url:
            asked_in["parent_url"] = parent_url  # a Confirm starts it with its parent's link
        if confirming is not None:
            parent_url = str(confirming.place.get("parent_url") or "")
        private = (
            confirming.private
            if confirming is not None
            else await private_for(self._engine.store, actor, command)
        )
        if private:
            # Private mode: its messages, results and failures go to a DM, never the channel.
            channel, thread_ts = await self._dm(actor.user_id), None
        ref = ReplyRef(
            channel=channel,
            thread_ts=thread_ts or "",
            message_ts="",
            user_id=actor.user_id,
            parent_url=parent_url,
        )
        model = command.model if isinstance(command, Generate) else ""
        reply = SlackReply(self._client, ref, prompt=prompt, model=model, opening=True)
        # Admitted but held: it starts only once its message is posted and named.
        try:
            if confirming is not None:
                job = await self._engine.confirm(confirming.id, reply, actor=actor, hold=True)
            else:
                job = await self._engine.submit(
                    command, reply, actor=actor, channel=SLACK_CHANNEL, hold=True, place=asked_in
                )
        except QuoteFirst as first:
            # Where it was asked (only its requester sees it), in the thread it was asked in.
            where, thread = asked_in["channel"], asked_in["thread_ts"]
            await post_quote(self._client, first.quote, channel=str(where), thread_ts=thread)
            return None
        text, blocks = render.starting(actor.user_id, prompt, what)
        try:
            await reply.open(text, blocks)
            job = await self._engine.set_reply_ref(job, reply.ref.to_dict())
        except BotError as err:
            await self._engine.withdraw(job, err)  # cancelled, credits back; nothing was shown
            raise
        except Exception:
            # Named or not, the job runs: its reply posts a message if it has none yet.
            await self._engine.release(job)
            raise
        # Cancelled (shutting down): the job stays queued in the store, and the next start
        # runs it and posts its message then.
        await self._engine.release(job)
        return job

    async def _dm(self, user_id: str) -> str:
        """The DM a private job lives in; a `BotError` (nothing started) when Slack says no."""
        try:
            answer = await self._client.conversations_open(users=user_id)
        except SlackApiError as exc:
            log.info("could not open a DM for a private job: %s", exc.response.get("error"))
            raise BotError(
                ErrorCode.NOT_ALLOWED,
                "I could not open a direct message with you, so I did not start this private job.",
                hint="Check that you can message falbot (its Messages tab), or ask without"
                " private.",
            ) from None
        return str((answer.get("channel") or {}).get("id") or "")
