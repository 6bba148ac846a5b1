"""A job's reply in Slack: one message edited with progress, results uploaded into its thread."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render
from core.errors import BotError, ErrorCode, RetryLater, Undeliverable
from core.jobs import Delivery, Job, ProgressView

log = logging.getLogger(__name__)

# Stores where a job's reply now is (core's `Engine.set_reply_ref`).
NameReply = Callable[[Job, Mapping[str, Any]], Awaitable[object]]

_TRANSPORT_ERRORS = (SlackClientError, aiohttp.ClientError, TimeoutError)
# The bot may not post in this conversation at all.
_NOT_HERE = frozenset({"not_in_channel", "channel_not_found", "is_archived", "restricted_action"})


@dataclass(frozen=True)
class ReplyRef:
    """What a job's `reply_ref` holds: enough to find its message again after a restart."""

    channel: str
    thread_ts: str  # the thread results go to
    message_ts: str  # the progress message ("" when there is none yet)
    user_id: str
    parent_url: str = ""  # the permalink of the result whose button made this job (lineage)

    def to_dict(self) -> dict[str, str]:
        data = {
            "channel": self.channel,
            "thread_ts": self.thread_ts,
            "message_ts": self.message_ts,
            "user_id": self.user_id,
        }
        return {**data, "parent_url": self.parent_url} if self.parent_url else data

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ReplyRef:
        return cls(
            channel=str(data.get("channel", "")),
            thread_ts=str(data.get("thread_ts") or data.get("message_ts") or ""),
            message_ts=str(data.get("message_ts") or ""),
            user_id=str(data.get("user_id", "")),
            parent_url=str(data.get("parent_url") or ""),
        )


class SlackReply:
    """Implements core's `Reply`. Progress edits may be lost (429s); the final message is not."""

    def __init__(
        self,
        client: AsyncWebClient,
        ref: ReplyRef,
        *,
        prompt: str = "",
        model: str = "",
        opening: bool = False,
        on_posted: Callable[[ReplyRef], Awaitable[None]] | None = None,
    ) -> None:
        self._client = _without_rate_limit_retries(client)
        # Called when this reply posts the job's first message, so a job rebuilt after a
        # restart, before its message was named, names the message it posts.
        self._on_posted = on_posted
        self._ref = ref
        self._ts = ref.message_ts
        self._thread_ts = ref.thread_ts
        # A new job's message is posted only once the job is admitted (`open`); until then its
        # progress waits, so nothing public is said about a job that is refused.
        self._opened = asyncio.Event()
        if not opening:
            self._opened.set()
        self._unpostable = False
        self._prompt = prompt
        self._model = model
        self._uploaded: tuple[list[str], list[tuple[str, str]]] | None = None

    @property
    def ref(self) -> ReplyRef:
        """Where the job's message is now (its ts is known once it is posted)."""
        return ReplyRef(
            channel=self._ref.channel,
            thread_ts=self._thread_ts,
            message_ts=self._ts,
            user_id=self._ref.user_id,
            parent_url=self._ref.parent_url,
        )

    async def open(self, text: str, blocks: list[dict[str, Any]]) -> None:
        """Post the admitted job's message; progress waits for it. Raises `BotError` when the
        bot cannot post in the conversation (the job should then be withdrawn)."""
        try:
            await self._post(text, blocks)
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if error in _NOT_HERE:
                self._unpostable = True
                raise BotError(
                    ErrorCode.NOT_ALLOWED,
                    "I can't post in this conversation.",
                    hint="Invite me first (/invite @falbot), or use me in a channel I'm in.",
                ) from None
            # The next progress edit, or the final message, posts it instead.
            log.warning("could not post a job's message: %s", error or "unknown")
        except _TRANSPORT_ERRORS as exc:
            log.warning("could not post a job's message: %s", _reason(exc))
        finally:
            self._opened.set()

    def persisted_ref(self) -> dict[str, Any]:
        return self.ref.to_dict()

    async def progress(self, view: ProgressView) -> None:
        await self._opened.wait()
        if self._unpostable:
            return
        text, blocks = render.progress(
            view, user_id=self._ref.user_id, prompt=self._prompt, model=self._model
        )
        try:
            if self._ts:
                await self._client.chat_update(
                    channel=self._ref.channel, ts=self._ts, text=text, blocks=blocks
                )
            else:
                await self._post(text, blocks)
        except _TRANSPORT_ERRORS as exc:
            # A lost progress edit is harmless: a later one, or the final message, replaces it.
            log.warning("progress edit for job %s failed: %s", view.job_id[:8], _reason(exc))

    async def deliver(self, delivery: Delivery) -> None:
        await self._opened.wait()
        if self._unpostable:
            return
        if self._uploaded is None:  # a retried delivery does not upload twice
            self._uploaded = await self._upload(delivery)
        file_ids, links = self._uploaded
        text, blocks = render.result(
            delivery,
            user_id=self._ref.user_id,
            links=links,
            file_ids=file_ids,
            parent_url=self._ref.parent_url,
        )
        await self._final(text, blocks)

    async def fail(self, job: Job, error: BotError, *, credits_returned: bool) -> None:
        await self._opened.wait()
        if self._unpostable:
            return  # withdrawn before anything was shown: the requester was told privately
        text, blocks = render.failure(
            job, error, credits_returned=credits_returned, user_id=self._ref.user_id
        )
        await self._final(text, blocks)

    async def _upload(self, delivery: Delivery) -> tuple[list[str], list[tuple[str, str]]]:
        """Upload what has bytes (files_upload_v2, into the thread); link the rest."""
        uploads: list[dict[str, Any]] = []
        links: list[tuple[str, str]] = []
        for f in delivery.files:
            if f.spoiler:
                continue  # Slack has no spoilers: a flagged output is held back (see render)
            if f.data is None:
                links.append((f.file_name, f.output.url))
                continue
            item: dict[str, Any] = {"file": f.data, "filename": f.file_name, "title": f.file_name}
            if f.output.content_type.startswith("image/") and self._prompt:
                item["alt_txt"] = self._prompt[:1000]
            uploads.append(item)
        if not uploads:
            return [], links
        try:
            resp = await self._client.files_upload_v2(
                file_uploads=uploads,
                channel=self._ref.channel,
                thread_ts=self._thread_ts or None,
                initial_comment=render.escape(delivery.footer()),
            )
        except SlackApiError as exc:
            if exc.response.status_code == 429:  # not uploaded yet: upload when core retries
                raise _retry_later("files.upload", exc) from exc
            log.warning("upload for job %s failed: %s", delivery.job.short_id, _reason(exc))
            return [], [(f.file_name, f.output.url) for f in delivery.files if not f.spoiler]
        except _TRANSPORT_ERRORS as exc:
            log.warning("upload for job %s failed: %s", delivery.job.short_id, _reason(exc))
            return [], [(f.file_name, f.output.url) for f in delivery.files if not f.spoiler]
        return [str(f["id"]) for f in resp.get("files") or []], links

    async def _final(self, text: str, blocks: list[dict[str, Any]]) -> None:
        """Edit the progress message into the final one, or post the final message in the
        thread when it cannot be edited. Sent once: a rate limit or an outage raises
        `RetryLater` (core tries again on its clock), a refusal raises `Undeliverable`."""
        if self._ts:
            try:
                await self._client.chat_update(
                    channel=self._ref.channel, ts=self._ts, text=text, blocks=blocks
                )
                return
            except SlackApiError as exc:
                if _retryable(exc):
                    raise _retry_later("chat.update", exc) from exc
                log.warning("final edit failed (%s); posting instead", _reason(exc))
            except _TRANSPORT_ERRORS as exc:
                raise _retry_later("chat.update", exc) from exc
        try:
            await self._post(text, blocks)
        except SlackApiError as exc:
            if _retryable(exc):
                raise _retry_later("chat.postMessage", exc) from exc
            raise Undeliverable(f"chat.postMessage: {_reason(exc)}") from exc
        except _TRANSPORT_ERRORS as exc:
            raise _retry_later("chat.postMessage", exc) from exc

    async def _post(self, text: str, blocks: list[dict[str, Any]]) -> None:
        resp = await self._client.chat_postMessage(
            channel=self._ref.channel,
            thread_ts=self._thread_ts or None,
            text=text,
            blocks=blocks,
        )
        first = not self._ts
        self._ts = str(resp.get("ts") or "")
        if not self._thread_ts:  # a new message: the job's results go to its thread
            self._thread_ts = self._ts
        if first and self._ts and self._on_posted is not None:
            await self._on_posted(self.ref)


# Slack's answers that say "not now" rather than "never".
_TRANSIENT = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable"})


def _retryable(exc: SlackApiError) -> bool:
    status = exc.response.status_code
    return status == 429 or status >= 500 or str(exc.response.get("error", "")) in _TRANSIENT


def _retry_later(method: str, exc: BaseException) -> RetryLater:
    """A rate limit says how long to wait (its Retry-After); an outage does not."""
    said = f"{method}: {_reason(exc)}"
    if isinstance(exc, SlackApiError) and exc.response.status_code == 429:
        return RetryLater.from_headers(said, exc.response.headers)
    return RetryLater(said)


def _without_rate_limit_retries(client: AsyncWebClient) -> AsyncWebClient:
    """The same client (token, API host, session) without slack_sdk's 429 retry handler: a
    reply's rate limits go to core's one retry loop, which waits on the engine's clock."""
    kept = [h for h in client.retry_handlers if not isinstance(h, AsyncRateLimitErrorRetryHandler)]
    if len(kept) == len(client.retry_handlers):
        return client
    own = copy.copy(client)
    own.retry_handlers = kept
    return own


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "error"))
    return type(exc).__name__


class SlackReplyFactory:
    """Rebuilds a job's reply from its `reply_ref` after a restart (core's `ReplyFactory`)."""

    platform = "slack"

    def __init__(self, client: AsyncWebClient, *, name_reply: NameReply | None = None) -> None:
        self._client = client
        self._name_reply = name_reply

    def rebuild(self, job: Job) -> SlackReply:
        ref = ReplyRef.from_mapping(job.reply_ref)
        on_posted = None
        if not ref.message_ts and self._name_reply is not None:
            # Admitted, then cut off before its message was posted: the message this reply
            # posts is the job's from now on, after the next restart too.
            name_reply = self._name_reply

            async def on_posted(posted: ReplyRef) -> None:
                await name_reply(job, posted.to_dict())

        return SlackReply(
            self._client,
            ref,
            prompt=str(job.arguments.get("prompt") or ""),
            model=job.model,
            on_posted=on_posted,
        )
