"""Telling users how their jobs ended: the result (fetched within the size cap, NSFW screened)
or the failure, each retried through a chat platform's outage or rate limit, on the clock."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Coroutine
from typing import Any

from core.config import EngineConfig
from core.errors import BotError, RetryLater, Undeliverable
from core.jobs import DeliveredFile, Delivery, Job, JobState, ProgressView, Stage
from core.nsfw import NsfwMode, flagged_output, screen
from core.ports import Clock, FalGateway, Store
from core.replies import JobReplies
from core.settling import Settling

log = logging.getLogger(__name__)

# A final message (a result or a failure) is tried this often, waiting up to a minute between
# tries (about five minutes in all): a chat platform's outage or rate limit should not lose it.
_SEND_ATTEMPTS = 8
_WAIT_MAX = 60.0


class Deliverer:
    def __init__(
        self,
        *,
        store: Store,
        fal: FalGateway,
        clock: Clock,
        config: EngineConfig,
        replies: JobReplies,
        settling: Settling,
    ) -> None:
        self._store = store
        self.fal = fal
        self._clock = clock
        self._config = config
        self._replies = replies
        self._settling = settling

    async def deliver(self, job: Job) -> None:
        """Fetch the outputs within the size cap and hand them to the reply; then delivered."""
        async with self._settling.finish_before_stopping():
            await self._deliver_now(job)

    async def _deliver_now(self, job: Job) -> None:
        assert job.result is not None
        reply = self._replies.of(job)
        await reply.progress(ProgressView(job.id, job.model, Stage.UPLOADING))
        mode = (await self._store.policy(job.workspace_id)).nsfw or self._config.nsfw
        nsfw_channel = job.nsfw_channel
        files, withheld = [], 0
        for i, output in enumerate(job.result.outputs):
            if output.text is not None:
                continue  # text (a describe's suggestions): in the result, no file to fetch
            flagged = flagged_output(output_flag=output.nsfw, job=job)
            shown = screen(flagged=flagged, nsfw_channel=nsfw_channel, mode=mode)
            if shown is NsfwMode.WITHHOLD:
                withheld += 1  # never fetched, never handed to the platform
                continue
            try:
                data: bytes | None = await self.fal.download(
                    output.url, max_bytes=self._config.max_output_bytes
                )
            except BotError:
                data = None  # too big or unreachable: the reply links to it instead
            name = _file_name(job, i, output.content_type)
            spoiler = shown is NsfwMode.SPOILER
            files.append(DeliveredFile(output, data, name, spoiler=spoiler))
        elapsed = (self._clock.now() - job.created_at).total_seconds()
        delivery = Delivery(
            job=job, result=job.result, files=tuple(files), elapsed_s=elapsed, withheld=withheld
        )
        if not await self._send_final(job, "delivery", lambda: reply.deliver(delivery)):
            return  # left completed: the next start delivers it again
        await self._store.save_job(job.moved_to(JobState.DELIVERED, at=self._clock.now()))
        self._replies.drop(job.id)

    async def fail(self, job: Job, error: BotError, *, credits_returned: bool) -> None:
        """Tell the user their job failed or was cancelled, and whether credits came back."""
        reply = self._replies.of(job)
        self._replies.drop(job.id)
        told = await self._send_final(
            job, "failure notice", lambda: reply.fail(job, error, credits_returned=credits_returned)
        )
        if not told:
            log.error("could not tell the user job %s failed", job.short_id)

    async def _send_final(
        self, job: Job, what: str, call: Callable[[], Coroutine[Any, Any, None]]
    ) -> bool:
        """Send one final message to the user: the one retry loop of a chat platform's
        message. A platform's `RetryLater` is waited out as long as it asked, an outage backs
        off with jitter, all on the clock; `Undeliverable` is not tried again. False when it
        was never sent."""
        for attempt in range(1, _SEND_ATTEMPTS + 1):
            try:
                await call()
                return True
            except Undeliverable as exc:
                log.warning("%s of job %s refused for good: %s", what, job.short_id, exc)
                return False
            except RetryLater as exc:
                wait = exc.after if exc.after is not None else _backoff(attempt)
                log.info(
                    "%s of job %s must wait %.1f s (attempt %d): %s",
                    what,
                    job.short_id,
                    wait,
                    attempt,
                    exc.reason,
                )
            except Exception:
                wait = _backoff(attempt)
                log.warning(
                    "%s of job %s failed (attempt %d)", what, job.short_id, attempt, exc_info=True
                )
            if attempt < _SEND_ATTEMPTS:
                await self._clock.sleep(min(wait, _WAIT_MAX))
        return False


def _backoff(attempt: int) -> float:
    """Exponential backoff with jitter (not a secret)."""
    return min(_WAIT_MAX, 2.0**attempt) * random.uniform(0.5, 1.0)


def _file_name(job: Job, index: int, content_type: str) -> str:
    ext = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "video/mp4": "mp4"}
    return f"falbot-{job.short_id}-{index + 1}.{ext.get(content_type, 'bin')}"
