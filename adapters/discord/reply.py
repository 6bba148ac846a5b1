"""A job's one Discord message: progress edits, then the result or the failure.

It edits the interaction's original response while the interaction token lives, and moves to a
normal channel message (with the bot token) when the token is about to expire or Discord refuses
it. What it needs to do so after a restart is in `ReplyRef`, saved with the job.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

import discord

from adapters.discord import render
from adapters.discord.buttons import result_view
from adapters.discord.refs import ReplyRef, TokenPolicy
from adapters.discord.webhooks import NO_MENTIONS, edit_original
from core.errors import BotError, RetryLater, Undeliverable
from core.jobs import Delivery, Job, ProgressView
from core.ports import Clock

log = logging.getLogger(__name__)

# Discord's answers that mean the interaction token cannot be used (any more).
_TOKEN_GONE = {50027, 10015, 10062}  # Invalid Webhook Token, Unknown Webhook, Unknown interaction
_UNKNOWN_MESSAGE = 10008


FileMaker = Callable[[], list[discord.File]]


class DiscordReply:
    """The `Reply` port on Discord. Waits for `gate` (the first response exists, the client is
    logged in) before its first request."""

    def __init__(
        self,
        *,
        client: discord.Client,
        ref: ReplyRef,
        clock: Clock,
        tokens: TokenPolicy,
        gate: asyncio.Event | None = None,
        gate_timeout: float = 30.0,
        defer: Callable[[Coroutine[Any, Any, None]], None] | None = None,
    ) -> None:
        self.ref = ref
        self._client = client
        self._clock = clock
        self._tokens = tokens
        self._gate = gate if gate is not None else asyncio.Event()
        self._gate_timeout = gate_timeout
        self._defer = defer
        self._lock = asyncio.Lock()
        self._via_interaction = ref.token is not None and ref.application_id is not None
        self._channel_message_id = ref.message_id
        self._model = ""
        self._final = False
        self._linked = False  # Discord refused the files as too large: the result links them

    def open_gate(self) -> None:
        """The message to edit exists now."""
        self._gate.set()

    # the Reply port

    def persisted_ref(self) -> dict[str, Any]:
        return self.ref.to_dict()

    async def progress(self, view: ProgressView) -> None:
        if self._defer is not None and not self._gate.is_set():
            self._defer(self._progress(view))  # see `_fail`
            return
        await self._progress(view)

    async def _progress(self, view: ProgressView) -> None:
        await self._wait_gate()
        async with self._lock:
            if self._final:
                return
            self._model = view.model or self._model
            try:
                model = self._model
                await self._send(lambda: render.progress(view, model=model))
            except discord.HTTPException as exc:
                # A lost progress edit is harmless: the next one, or the result, replaces it.
                log.warning(
                    "progress edit for job %s failed: HTTP %s (code %s)",
                    view.job_id[:8],
                    exc.status,
                    exc.code,
                )

    async def deliver(self, delivery: Delivery) -> None:
        await self._wait_gate()
        async with self._lock:
            self._final = True
            fits = [
                f
                for f in delivery.files
                if f.data is not None and len(f.data) <= self.ref.size_limit
            ]
            links = [f.output.url for f in delivery.files if f not in fits]
            every_link = [f.output.url for f in delivery.files]

            def compose(linked: bool) -> str:
                shown = every_link if linked else links
                return render.delivery(
                    delivery,
                    links=shown,
                    mention=self._mention(),
                    parent_url=self.ref.parent_url(),
                )

            def files() -> list[discord.File]:
                return [
                    discord.File(io.BytesIO(f.data or b""), filename=f.file_name, spoiler=f.spoiler)
                    for f in fits
                ]

            await self._send_final(
                compose, files=files if fits else None, view=result_view(delivery)
            )

    async def fail(self, job: Job, error: BotError, *, credits_returned: bool) -> None:
        if self._defer is not None and not self._gate.is_set():
            # The engine recovers jobs while it starts, before the platforms connect: the
            # adapter sends this once connected, so the engine's start is not held up.
            self._defer(self._fail(job, error, credits_returned))
            return
        await self._fail(job, error, credits_returned)

    async def _fail(self, job: Job, error: BotError, credits_returned: bool) -> None:
        await self._wait_gate()
        async with self._lock:
            self._final = True

            def compose(_: bool) -> str:
                return render.failure(
                    job, error, credits_returned=credits_returned, mention=self._mention()
                )

            await self._send_final(compose, files=None, view=None)

    # internals

    async def _wait_gate(self) -> None:
        try:
            await asyncio.wait_for(self._gate.wait(), self._gate_timeout)
        except TimeoutError:
            log.warning("reply in channel %s went ahead without its gate", self.ref.channel_id)

    def _mention(self) -> str | None:
        """The requester's mention, when the job left its interaction for a channel message:
        the message they watched went quiet, so the result comes as a new one that pings."""
        moved = self.ref.token is not None and not self._via_interaction
        return f"<@{self.ref.user_id}>" if moved else None

    async def _send_final(
        self,
        compose: Callable[[bool], str],
        *,
        files: FileMaker | None,
        view: discord.ui.View | None,
    ) -> None:
        """Send the result or failure once, through what Discord takes: the files linked when
        they are refused as too large, a channel message when the interaction's is refused.
        A rate limit or Discord's own error raises `RetryLater` (core tries again on its
        clock); a refusal with nowhere else to go raises `Undeliverable`."""
        while True:
            try:
                await self._send(
                    functools.partial(compose, self._linked),
                    files=files() if files and not self._linked else (),
                    view=view,
                    ping=True,
                )
                return
            except discord.HTTPException as exc:
                said = f"HTTP {exc.status} (code {exc.code}) on the final message"
                if exc.status == 413 and files is not None and not self._linked:
                    self._linked = True  # bigger than Discord takes here after all: link them
                elif exc.status == 429:
                    raise RetryLater.from_headers(said, _headers(exc)) from exc
                elif exc.status >= 500:
                    raise RetryLater(said) from exc
                elif self._via_interaction:
                    self._fall_back(said)
                else:
                    raise Undeliverable(said) from exc

    async def _send(
        self,
        compose: Callable[[], str],
        *,
        files: Sequence[discord.File] = (),
        view: discord.ui.View | None = None,
        ping: bool = False,
    ) -> None:
        """Edit the interaction's message, or else the bot's channel message. `compose` is
        asked for the text at the last moment: a channel message mentions the requester."""
        if self._via_interaction and self._token_expiring():
            await self._leave_note()
            self._fall_back("the interaction token is about to expire")
        if self._via_interaction:
            assert self.ref.application_id is not None and self.ref.token is not None
            try:
                await edit_original(
                    self._client,
                    application_id=self.ref.application_id,
                    token=self.ref.token,
                    content=compose(),
                    files=files,
                    view=view,
                )
                return
            except discord.HTTPException as exc:
                if exc.code not in _TOKEN_GONE and exc.status != 401:
                    raise
                self._fall_back(f"Discord refused the interaction token (code {exc.code})")
                _rewind(files)
        await self._channel_send(compose(), files=files, view=view, ping=ping)

    def _token_expiring(self) -> bool:
        created = self.ref.created_at
        return created is not None and self._tokens.expired(created, self._clock.now())

    def _fall_back(self, why: str) -> None:
        if self._via_interaction:
            log.info("reply in channel %s moves to a channel message: %s", self.ref.channel_id, why)
        self._via_interaction = False

    async def _leave_note(self) -> None:
        """Say on the interaction's message where the job continues, while the token may work."""
        assert self.ref.application_id is not None and self.ref.token is not None
        try:
            await edit_original(
                self._client,
                application_id=self.ref.application_id,
                token=self.ref.token,
                content=(
                    "⏩ This is taking a while: the result will come in a direct message."
                    if self.ref.private
                    else "⏩ This is taking a while: the result will come in a new message below."
                ),
            )
        except discord.HTTPException:
            log.debug("could not leave a note on the expiring interaction message")

    async def _channel_send(
        self,
        content: str,
        *,
        files: Sequence[discord.File],
        view: discord.ui.View | None,
        ping: bool,
    ) -> None:
        channel: discord.PartialMessageable | discord.DMChannel
        if self.ref.private:
            # Private mode never posts in the channel: past the interaction, a DM.
            channel = await self._client.create_dm(discord.Object(self.ref.user_id))
        else:
            channel = self._client.get_partial_messageable(
                self.ref.channel_id, guild_id=self.ref.guild_id
            )
        stale: int | None = None
        if ping and self._mention() and self._channel_message_id is not None:
            # Edits notify nobody: the result goes in a new message, the progress one goes.
            stale, self._channel_message_id = self._channel_message_id, None
        if self._channel_message_id is not None:
            message = channel.get_partial_message(self._channel_message_id)
            try:
                await message.edit(
                    content=content,
                    attachments=list(files) if files else discord.utils.MISSING,
                    view=view if view is not None else discord.utils.MISSING,
                    allowed_mentions=NO_MENTIONS,
                )
                return
            except discord.NotFound:
                self._channel_message_id = None  # deleted meanwhile: post a new one
                _rewind(files)
        mentions = (
            discord.AllowedMentions(users=[discord.Object(self.ref.user_id)])
            if ping
            else NO_MENTIONS
        )
        reference = (
            discord.MessageReference(
                message_id=self.ref.reply_to,
                channel_id=self.ref.channel_id,
                fail_if_not_exists=False,
            )
            if self.ref.reply_to is not None and not self.ref.private  # a DM answers nothing
            else None
        )
        extra: dict[str, Any] = {}
        if files:
            extra["files"] = list(files)
        if view is not None:
            extra["view"] = view
        if reference is not None:
            extra["reference"] = reference
        sent = await channel.send(content, allowed_mentions=mentions, **extra)
        self._channel_message_id = sent.id
        if stale is not None:
            try:
                await channel.get_partial_message(stale).delete()
            except discord.HTTPException:
                log.debug("could not delete the progress message %s", stale)


def _rewind(files: Sequence[discord.File]) -> None:
    """Back to the start of each file: a refused request has read them to the end, and
    discord.py rewinds only between its own retries, not before a new request's first try."""
    for file in files:
        file.reset()


def _headers(exc: discord.HTTPException) -> Mapping[str, str] | None:
    return getattr(exc.response, "headers", None)


class DiscordReplyFactory:
    """Rebuilds a job's reply from its `reply_ref` after a restart."""

    platform = "discord"

    def __init__(
        self, *, client: discord.Client, clock: Clock, tokens: TokenPolicy, ready: asyncio.Event
    ) -> None:
        self._client = client
        self._clock = clock
        self._tokens = tokens
        self._ready = ready
        self._tasks: set[asyncio.Task[None]] = set()

    def rebuild(self, job: Job) -> DiscordReply:
        return DiscordReply(
            client=self._client,
            ref=ReplyRef.from_dict(job.reply_ref),
            clock=self._clock,
            tokens=self._tokens,
            gate=self._ready,
            defer=self._spawn,
        )

    def _spawn(self, send: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(send, name="discord-deferred-reply")
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("a deferred reply could not be sent", exc_info=task.exception())

    async def aclose(self) -> None:
        """Drop replies still waiting for a connection that is closing."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
