"""Price before spending: a job whose estimate is above the workspace's threshold
(`/admin confirm-above USD`, $0.20 unless set) is first shown as a quote, with Confirm and
Cancel. Nothing is taken or sent to fal before Confirm; Confirm then runs the full admission
(quota and budget may have changed) and starts the job once, however often it is pressed and
by however many processes (`Store.claim`); a quote not confirmed in `QUOTE_LIFETIME` of core's
clock lapses. Pending quotes live in the store (`state_value`), so a restart keeps them."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from core import job_log
from core.commands import Command, FollowUp, Generate
from core.errors import BotError, ErrorCode, invalid
from core.jobs import Actor, Channel, JobRequest
from core.live_catalog import LiveCatalog
from core.markup import clock_ref
from core.money import format_usd
from core.ports import Clock, Store
from core.pricing import estimate_for
from core.quota import BucketKey, BucketLimits, resolve, to_credits
from core.quote_codec import decode_channel, decode_command, encode_channel, encode_command

QUOTE_LIFETIME = timedelta(minutes=5)
DEFAULT_CONFIRM_ABOVE = Decimal("0.20")
_OFF = {"off", "none", "never", "-"}


@dataclass(frozen=True)
class PriceQuote:
    """A job priced but not started: what it would cost, what the person has, until when."""

    id: str
    platform: str
    workspace_id: str
    user_id: str
    model: str
    estimate_usd: Decimal
    credits: Decimal
    balance: Decimal  # the person's credits when quoted
    created_at: datetime
    command: Command
    channel: Channel = field(default_factory=Channel)
    place: Mapping[str, Any] = field(default_factory=dict)  # the adapter's: where to start it

    @property
    def expires_at(self) -> datetime:
        return self.created_at + QUOTE_LIFETIME

    @property
    def private(self) -> bool:
        return bool(getattr(self.command, "private", False))

    def text(self) -> str:
        """The quote as every surface shows it (core's markup)."""
        # Never short: a job the credits cannot cover now is refused before it is quoted.
        return (
            f"**{self.model}** will cost about **{format_usd(self.estimate_usd)}** "
            f"({_credits(self.credits)} credits). You have {_credits(self.balance)} credits.\n"
            f"Nothing is taken until you confirm. This quote lapses at "
            f"{clock_ref(self.expires_at)} (5 minutes)."
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "state": "pending",
                "id": self.id,
                "platform": self.platform,
                "workspace_id": self.workspace_id,
                "user_id": self.user_id,
                "model": self.model,
                "estimate_usd": str(self.estimate_usd),
                "credits": str(self.credits),
                "balance": str(self.balance),
                "created_at": self.created_at.isoformat(),
                "command": encode_command(self.command),
                "channel": encode_channel(self.channel),
                "place": dict(self.place),
            }
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PriceQuote:
        return cls(
            id=str(data["id"]),
            platform=str(data["platform"]),
            workspace_id=str(data["workspace_id"]),
            user_id=str(data["user_id"]),
            model=str(data["model"]),
            estimate_usd=Decimal(str(data["estimate_usd"])),
            credits=Decimal(str(data["credits"])),
            balance=Decimal(str(data["balance"])),
            created_at=datetime.fromisoformat(str(data["created_at"])),
            command=decode_command(data["command"]),
            channel=decode_channel(data.get("channel") or {}),
            place=dict(data.get("place") or {}),
        )


class QuoteFirst(BotError):
    """Raised by admission instead of admitting: show `quote` with Confirm and Cancel.

    A `BotError`, so a surface that cannot show buttons still says the price, not a crash."""

    def __init__(self, quote: PriceQuote) -> None:
        super().__init__(
            ErrorCode.INVALID_INPUT, quote.text(), hint="Confirm it to start, or cancel."
        )
        self.quote = quote


def _credits(value: Decimal) -> str:
    shown = value.quantize(Decimal("0.01")).normalize()
    return f"{shown:f}"


def _key(quote_id: str) -> str:
    return f"quote:{quote_id}"


def _threshold_key(workspace_id: str) -> str:
    return f"workspace:{workspace_id}:confirm_above"


def parse_threshold(value: str) -> Decimal | None:
    """`/admin confirm-above` as typed: dollars ($ allowed), or off."""
    text = value.strip().lower().removeprefix("$")
    if text in _OFF:
        return None
    try:
        amount = Decimal(text)
    except ArithmeticError:
        amount = Decimal(-1)
    if not amount.is_finite() or amount < 0 or amount > 10_000:
        raise invalid(
            f"`{value[:20]}` is not an amount in dollars.",
            "For example /admin confirm-above 0.50, or off to never ask.",
        )
    return amount.quantize(Decimal("0.0001"))


class QuoteDesk:
    """Quotes offered, confirmed, cancelled, and each workspace's threshold."""

    def __init__(
        self,
        *,
        store: Store,
        models: LiveCatalog,
        clock: Clock,
        credit_usd: Decimal,
        default_limits: BucketLimits,
        default_threshold: Decimal | None = DEFAULT_CONFIRM_ABOVE,
    ) -> None:
        self._store = store
        self._models = models
        self._clock = clock
        self._credit_usd = credit_usd
        self._default_limits = default_limits
        self._default = default_threshold

    # ---- the threshold

    async def threshold(self, workspace_id: str) -> Decimal | None:
        """Estimates above this are quoted first; None: never."""
        raw = await self._store.state_value(_threshold_key(workspace_id))
        if raw is None:
            return self._default
        return None if raw == "off" else Decimal(raw)

    async def set_threshold(self, workspace_id: str, usd: Decimal | None) -> str:
        await self._store.set_state_value(
            _threshold_key(workspace_id), "off" if usd is None else str(usd)
        )
        if usd is None:
            return "Jobs start without a quote here, whatever they cost."
        return (
            f"Jobs estimated above {format_usd(usd)} show their price first and start only "
            "once their requester confirms."
        )

    # ---- offering

    async def needed(self, request: JobRequest) -> bool:
        """Whether `request` costs more than its workspace's threshold."""
        limit = await self.threshold(request.actor.workspace_id)
        return limit is not None and self._estimate(request)[1] > limit

    def _estimate(self, request: JobRequest) -> tuple[str, Decimal]:
        spec = self._models.for_kind(request.kind, request.model)
        params = spec.validate(request.params, image_count=len(request.images))
        sizes = [(i.width, i.height) for i in request.images]
        return spec.name, estimate_for(spec.pricing, params, sizes)  # as admission has it

    async def offer(self, request: JobRequest, command: Command, place: Mapping[str, Any]) -> None:
        """Keep a quote for `request` in the store and raise `QuoteFirst` with it."""
        actor = request.actor
        model, estimate = self._estimate(request)
        now = self._clock.now()
        quote = PriceQuote(
            id=uuid.uuid4().hex,
            platform=actor.platform,
            workspace_id=actor.workspace_id,
            user_id=actor.user_id,
            model=model,
            estimate_usd=estimate,
            credits=to_credits(estimate, self._credit_usd),
            balance=await self._balance(actor),
            created_at=now,
            command=_quoted(command, request),
            channel=request.channel,
            place=place,
        )
        await self._store.set_state_value(_key(quote.id), quote.to_json())
        await self._let_go_lapsed(quote)
        job_log.lifecycle(
            "job_quoted",
            model=quote.model,
            estimate_usd=str(quote.estimate_usd),
            workspace_id=quote.workspace_id,
            user_id=quote.user_id,
        )
        raise QuoteFirst(quote)

    async def _let_go_lapsed(self, quote: PriceQuote) -> None:
        """Forget the command (its images) of this person's quotes that lapsed unanswered:
        the store keeps no bytes for a quote nobody can confirm any more."""
        index = f"quotes:{quote.workspace_id}:{quote.user_id}"
        raw = await self._store.state_value(index)
        kept: list[list[str]] = []
        for quote_id, created in json.loads(raw) if raw else []:
            if datetime.fromisoformat(created) + QUOTE_LIFETIME > quote.created_at:
                kept.append([quote_id, created])
                continue
            stored = await self._store.state_value(_key(quote_id))
            if stored is not None and json.loads(stored).get("state") == "pending":
                ended = {**_summary(json.loads(stored)), "state": "lapsed"}
                await self._store.set_state_value(_key(quote_id), json.dumps(ended))
        kept.append([quote.id, quote.created_at.isoformat()])
        await self._store.set_state_value(index, json.dumps(kept))

    async def _balance(self, actor: Actor) -> Decimal:
        quotas = await self._store.quotas(actor.workspace_id, actor.user_id, actor.roles)
        limits = resolve(quotas, self._default_limits)
        state = await self._store.bucket(
            BucketKey(actor.workspace_id, actor.user_id), limits, self._clock.now()
        )
        return state.level

    # ---- answering

    async def pending(self, quote_id: str, actor: Actor) -> PriceQuote:
        """The quote `actor` may still confirm or cancel; or the `BotError` saying why not."""
        record = await self._record(quote_id)
        _check_owner(record, actor)
        said = record.get("state")
        if said == "confirmed":
            raise invalid(
                "You already confirmed this quote: its job is on its way.",
                "/jobs shows it and what it cost.",
            )
        if said == "cancelled":
            raise invalid(
                "You cancelled this quote; nothing was taken.", "Ask again for a new quote."
            )
        if said == "lapsed":
            raise _lapsed()
        quote = PriceQuote.from_json(record)
        if self._clock.now() >= quote.expires_at:
            raise _lapsed()
        return quote

    async def take(self, quote_id: str, actor: Actor, *, confirmed: bool) -> PriceQuote:
        """End a pending quote once (confirmed or cancelled): of racing presses, in any
        process, one gets the quote; the others get the `BotError` a second press gets."""
        quote = await self.pending(quote_id, actor)
        state = "confirmed" if confirmed else "cancelled"
        if not await self._store.claim(f"{_key(quote_id)}:taken", self._clock.now()):
            await self.pending(quote_id, actor)  # says what the winner did, when it has
            raise invalid("This quote was already answered.", "/jobs shows your jobs.")
        # Its command (and images) is let go: only what a later press is told is kept.
        ended = {
            "id": quote.id,
            "workspace_id": quote.workspace_id,
            "user_id": quote.user_id,
            "model": quote.model,
            "state": state,
        }
        await self._store.set_state_value(_key(quote_id), json.dumps(ended))
        return quote

    async def _record(self, quote_id: str) -> dict[str, Any]:
        raw = await self._store.state_value(_key(quote_id.strip().lower()))
        if raw is None:
            raise BotError(
                ErrorCode.NOT_FOUND,
                "I have no such quote: it may be from before an upgrade.",
                hint="Ask again for a new quote.",
            )
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise BotError(ErrorCode.INTERNAL, "a stored quote is unreadable")
        return data


def _lapsed() -> BotError:
    return BotError(
        ErrorCode.INVALID_INPUT,
        "This quote lapsed: quotes last 5 minutes, and nothing was taken.",
        hint="Ask again for a new quote.",
    )


def _summary(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in ("id", "workspace_id", "user_id", "model")}


def _check_owner(record: Mapping[str, Any], actor: Actor) -> None:
    mine = record.get("user_id") == actor.user_id
    if not mine or record.get("workspace_id") != actor.workspace_id:
        raise BotError(
            ErrorCode.NOT_ALLOWED,
            "Only the person who asked for this quote can confirm or cancel it.",
            hint="Ask for your own: its price is shown before anything starts.",
        )


def _quoted(command: Command, request: JobRequest) -> Command:
    """The command to start on Confirm, with the privacy decided now."""
    if isinstance(command, Generate | FollowUp):
        return dataclasses.replace(command, private=request.private)
    return command
