"""The region painter (issue 15): a private link from a result's Edit region button to a page on
which its owner paints what to repaint, and the inpainting job that page asks for.

A link is `FALBOT_PUBLIC_URL/paint/<token>`: 32 random bytes, kept in the store only as their
SHA-256, with the job, the image, the user and the channel it was made for. It lapses after
`LINK_LIFETIME` of core's clock and is spent by the job it starts: each try claims a key
(`Store.claim`), so of two submits at once, on any process, one goes on. A try that admission
refuses (quota, budget, a ban) leaves the link usable for another. The job is a `FollowUp` of
the result, admitted like every job; its reply is the platform's own, made from the place the
button named, so the result comes back in the chat under its parent. The token is never
logged: a log line names a link by the first 8 hex digits of its hash."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from core.commands import FollowUp, Generate
from core.engine import Engine
from core.errors import BotError, ErrorCode, invalid, not_allowed
from core.jobs import Actor, Channel, Delivery, Job, JobKind, JobState, Output, ProgressView, Stage
from core.masks import Mask, check_mask
from core.model_inputs import MAX_PROMPT, clean_prompt
from core.money import format_usd
from core.paint_links import (
    LINK_LIFETIME,
    LinkGone,
    LinkRecord,
    PaintLink,
    digest,
    link_text,
    load,
    save,
)
from core.ports import Clock, FalGateway, Reply, ReplyFactory

__all__ = ["LinkGone", "PaintLink", "PaintPage", "PaintStatus", "Painter", "link_text"]

log = logging.getLogger(__name__)

_IMAGES_KEPT = 8  # images kept for pages being painted (each up to FALBOT_MAX_OUTPUT_BYTES)
STATUS_GRACE = timedelta(hours=1)  # the page may ask how its job does this long after
# A placeholder prompt and mask for the early check: admission checks the real ones.
_PROBE = {"prompt": "region", "mask_url": "https://falbot.invalid/mask.png"}


@dataclass(frozen=True)
class PaintPage:
    """What the page shows: the image's size, the price, and where the result goes."""

    width: int
    height: int
    price: str
    model: str
    place: str
    prompt_max: int
    expires_at: datetime
    content_type: str


@dataclass(frozen=True)
class PaintStatus:
    """How the job a page started is doing, for the page to say."""

    state: Literal["queued", "working", "posted", "failed"]
    place: str
    job: str
    position: int | None = None
    message: str = ""


@dataclass
class _Cached:
    data: bytes
    expires: datetime


class Painter:
    """Makes the links, serves what the page needs, and starts the job it asks for."""

    def __init__(
        self,
        *,
        engine: Engine,
        fal: FalGateway,
        clock: Clock,
        public_url: str | None,
        lifetime: timedelta = LINK_LIFETIME,
    ) -> None:
        self._engine = engine
        self._store = engine.store
        self._fal = fal
        self._clock = clock
        self._public_url = public_url.rstrip("/") if public_url else None
        self._lifetime = lifetime
        self._factories: dict[str, ReplyFactory] = {}
        self._replies: dict[str, _LinkedReply] = {}
        self._images: dict[str, _Cached] = {}

    def serve_at(self, public_url: str) -> None:
        """Where links point, once known (the demo serves the page on a port chosen at start)."""
        self._public_url = public_url.rstrip("/")

    def now(self) -> datetime:
        """Core's clock, which links lapse by."""
        return self._clock.now()

    def add_reply_factory(self, factory: ReplyFactory) -> None:
        """A platform whose results the page's jobs are posted to."""
        self._factories[factory.platform] = factory

    # ---- the link (the Edit region button)

    async def issue(
        self,
        *,
        actor: Actor,
        channel: Channel,
        job_id: str,
        image: int | None,
        place: str,
        reply_ref: Mapping[str, Any],
    ) -> PaintLink:
        """A private link for `actor` to paint on image `image` of their job `job_id`; its
        result is posted at `reply_ref` (the platform's ref of a new message under the result).
        Refuses now what the job would be refused anyway."""
        command = FollowUp(job_id, "fill", image_index=image)
        job = await self._engine.check_follow_up(command, actor=actor, channel=channel)
        if self._public_url is None:
            raise not_allowed(
                "Edit region needs falbot's public address, and none is set.",
                "An admin sets FALBOT_PUBLIC_URL (for example https://falbot.example.com).",
            )
        output, index = _image_of(job, image)
        probe = Generate(JobKind.FILL, options=_PROBE)
        await self._engine.precheck(probe, actor=actor, images=1)
        token = secrets.token_urlsafe(32)
        expires = self._clock.now() + self._lifetime
        record = LinkRecord(
            job=job.id,
            image=index,
            actor=asdict(actor),
            nsfw=channel.nsfw,
            spoilers=channel.spoilers,
            place=place,
            reply=dict(reply_ref),
            image_url=output.url,
            content_type=output.content_type,
            width=output.width or 0,
            height=output.height or 0,
            expires=expires.isoformat(),
        )
        await save(self._store, digest(token), record)
        log.info("painting link %s made for job %s", digest(token)[:8], job.short_id)
        return PaintLink(f"{self._public_url}/paint/{token}", expires)

    # ---- the page

    async def page(self, token: str) -> PaintPage:
        """What the page shows, for a link that can still be used."""
        _, record = await self._usable(token)
        spec = self._engine.live_catalog.default_for(JobKind.FILL)
        size = (Output("", "image/png", record.width, record.height),)
        price = spec.pricing.actual({"num_images": 1}, size)
        return PaintPage(
            width=record.width,
            height=record.height,
            price=format_usd(price),
            model=spec.name,
            place=record.place,
            prompt_max=MAX_PROMPT,
            expires_at=record.expires_at,
            content_type=record.content_type,
        )

    async def check(self, token: str) -> None:
        """Refuse a link that cannot be used (before its request's body is read)."""
        await self._usable(token)

    async def image(self, token: str) -> tuple[bytes, str]:
        """The image to paint on (the page may show nothing from another host)."""
        key, record = await self._usable(token)
        now = self._clock.now()
        for lapsed in [k for k, c in self._images.items() if c.expires <= now]:
            del self._images[lapsed]
        cached = self._images.get(key)
        if cached is None:
            data = await self._fal.download(
                record.image_url, max_bytes=self._engine.config.max_output_bytes
            )
            if len(self._images) >= _IMAGES_KEPT:  # the oldest goes: a page loads it once
                del self._images[next(iter(self._images))]
            cached = self._images[key] = _Cached(data, record.expires_at)
        return cached.data, record.content_type

    # ---- the job

    async def submit(
        self, token: str, *, prompt: str, mask: bytes, confirm: str | None = None
    ) -> PaintStatus:
        """Check the prompt and the mask, then start the inpainting job (once per link).
        Above the workspace's price threshold it raises `QuoteFirst` (the link stays usable);
        `confirm`: the quote the page shows, which then starts the job quoted."""
        key, record = await self._usable(token)
        text = _prompt(prompt)
        checked: Mask = await asyncio.to_thread(
            check_mask, mask, width=record.width, height=record.height
        )
        factory = self._factories.get(str(record.actor["platform"]))
        if factory is None:
            raise BotError(
                ErrorCode.BUSY, "falbot cannot post there right now.", hint="Try again soon."
            )
        if not await self._store.claim(f"paint-try:{key}:{record.tries}", self._clock.now()):
            raise LinkGone("used")  # a second submit, here or on another process
        reply = _LinkedReply(record.reply, factory, done=self._forget)
        channel = Channel(nsfw=record.nsfw, spoilers=record.spoilers)
        try:
            if confirm is not None:  # what was quoted: its mask is uploaded already
                quoted = await self._engine.quotes.pending(confirm, record.who())
                if getattr(quoted.command, "job_id", None) != record.job:
                    raise invalid("That quote is not this painting's.", "Submit again.")
                job = await self._engine.confirm(confirm, reply, actor=record.who(), hold=True)
            else:
                mask_url = await self._fal.upload(checked.png, "image/png")
                command = FollowUp(
                    record.job, "fill", image_index=record.image, prompt=text, mask_url=mask_url
                )
                job = await self._engine.submit(
                    command, reply, actor=record.who(), channel=channel, hold=True
                )
        except Exception:
            record.tries += 1  # refused or failed, nothing started: the link may try again
            await save(self._store, key, record)
            raise
        reply.bind(job)
        record.child = job.id
        await save(self._store, key, record)
        self._replies[job.id] = reply
        await self._engine.release(job)
        log.info(
            "painting link %s started job %s (%.0f%% of the image painted)",
            key[:8],
            job.short_id,
            100 * checked.share,
        )
        return await self._status_of(record)

    async def status(self, token: str) -> PaintStatus:
        """How the job this link started is doing."""
        _, record = await load(self._store, token)
        if record.child is None:
            if self._lapsed(record):
                raise LinkGone("expired")
            raise invalid("Nothing was submitted with this link yet.", "Paint, then Submit.")
        if self._clock.now() > record.expires_at + STATUS_GRACE:
            raise LinkGone("expired")
        return await self._status_of(record)

    # ---- internals

    async def _status_of(self, record: LinkRecord) -> PaintStatus:
        assert record.child is not None
        job = await self._store.get_job(record.child)
        held = self._replies.get(record.child)
        if job is None:
            raise LinkGone("unknown")
        place, short = record.place, job.short_id
        if job.state is JobState.DELIVERED:
            return PaintStatus("posted", place, short)
        if job.state.final:
            reason = job.error.message if job.error else "The job did not finish."
            return PaintStatus("failed", place, short, message=reason)
        view = held.view if held is not None else None
        if job.state is JobState.QUEUED:
            position = view.position if view is not None else None
            return PaintStatus("queued", place, short, position=position)
        return PaintStatus("working", place, short)

    async def _usable(self, token: str) -> tuple[str, LinkRecord]:
        key, record = await load(self._store, token)
        if record.child is not None:
            raise LinkGone("used")
        if self._lapsed(record):
            raise LinkGone("expired")
        return key, record

    def _forget(self, job_id: str) -> None:
        """A page's job has ended: its status comes from the store from now on."""
        self._replies.pop(job_id, None)

    def _lapsed(self, record: LinkRecord) -> bool:
        return self._clock.now() >= record.expires_at


class _LinkedReply:
    """The platform's own reply for a job the page started, made from the place the button
    named once the job exists (it is admitted held, so nothing is shown before). It keeps the
    latest view for the page's status."""

    def __init__(
        self, ref: Mapping[str, Any], factory: ReplyFactory, *, done: Callable[[str], None]
    ) -> None:
        self._ref = dict(ref)
        self._factory = factory
        self._done = done
        self._inner: Reply | None = None
        self.view: ProgressView | None = None

    def bind(self, job: Job) -> None:
        self._inner = self._factory.rebuild(job)

    def _reply(self) -> Reply:
        if self._inner is None:
            raise RuntimeError("a painter job's reply is used before its job exists")
        return self._inner

    def persisted_ref(self) -> Mapping[str, Any]:
        return self._inner.persisted_ref() if self._inner is not None else self._ref

    async def progress(self, view: ProgressView) -> None:
        self.view = view
        await self._reply().progress(view)

    async def deliver(self, delivery: Delivery) -> None:
        self.view = ProgressView(delivery.job.id, delivery.job.model, Stage.DONE)
        await self._reply().deliver(delivery)
        self._done(delivery.job.id)

    async def fail(self, job: Job, error: BotError, *, credits_returned: bool) -> None:
        if self._inner is None:
            self.bind(job)
        await self._reply().fail(job, error, credits_returned=credits_returned)
        self._done(job.id)


def _prompt(prompt: str) -> str:
    if len(prompt) > MAX_PROMPT:
        raise invalid(
            f"The prompt is {len(prompt)} characters; the limit is {MAX_PROMPT}.",
            "Say what to paint in fewer words.",
        )
    try:
        return clean_prompt(prompt)
    except ValueError:
        raise invalid("Say what to paint in the region.", "For example: a stormy sky.") from None


def _image_of(job: Job, image: int | None) -> tuple[Output, int]:
    outputs = job.result.outputs if job.result else ()
    images = [i for i, o in enumerate(outputs) if o.content_type.startswith("image/")]
    at = images[0] if image is None and images else image
    if at is None or at not in images:
        raise invalid("That result has no image to paint on.")
    output = outputs[at]
    if not (output.width and output.height):
        raise invalid(
            "I do not know that image's size, so I cannot make a painting page for it.",
            "Use Edit to change it with words instead.",
        )
    return output, at
