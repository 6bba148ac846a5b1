"""What a job that ended early costs, by fal's rule, and the price a job settles at."""

from __future__ import annotations

from decimal import Decimal

from core.errors import BotError, ErrorCode
from core.money import format_usd
from core.pricing import Pricing, Quotable


def fal_bills(error: BotError, *, was_running: bool = False) -> bool:
    """Whether fal charges for a request that ended in `error`.

    fal bills model APIs for what they produce, so a request that produced nothing costs
    nothing: server errors, runner failures and fal's own timeouts, and validation and
    content-policy rejections (422) too, since the model refused before producing any output.
    The exception is a cancellation (asked by the user, or by falbot when it gave up waiting)
    after the request had started running (`was_running`): fal ran it, and bills it. A request
    cancelled while still in fal's queue is free.
    """
    return error.code is ErrorCode.CANCELLED and was_running


def admitted_pricing(rule: Pricing, base_usd: Decimal | None) -> Pricing:
    """`rule` at the base price a job was admitted with: a price refreshed while the job ran
    (or before a restart resumed it) does not change what it costs."""
    if base_usd is None or not isinstance(rule, Quotable) or rule.base_usd == base_usd:
        return rule
    return rule.rebased(base_usd)


def base_price(rule: Pricing) -> Decimal | None:
    """The figure a refresh can change in `rule` (None when a refresh never changes it)."""
    return rule.base_usd if isinstance(rule, Quotable) else None


def charged_error(error: BotError, cost_usd: Decimal) -> BotError:
    """`error`, saying that fal had started the job, so it is charged."""
    if error.code is ErrorCode.CANCELLED:
        message = f"fal had started it, so it costs {format_usd(cost_usd)}."
    else:
        message = f"{error.message.rstrip('.')}; fal had started it, so it costs"
        message += f" {format_usd(cost_usd)}."
    return BotError(
        error.code,
        message,
        hint=error.hint,
        retry_after=error.retry_after,
        request_id=error.request_id,
    )
