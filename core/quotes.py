"""fal's price quotes, and whether one can be trusted to price a rule of the catalog."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from core.money import format_usd, usd
from core.pricing import ByQuality, Pricing, Quotable, TokenBilled

# A quote further than this from the built-in price is refused: a bad figure would bill users.
BAND = (Decimal("0.2"), Decimal(5))

# fal's unit names, normalised (lower case, `_` as a space), and the unit each rule bills in.
_UNITS = {
    "image": "images",
    "images": "images",
    "megapixel": "megapixels",
    "megapixels": "megapixels",
    "second": "seconds",
    "seconds": "seconds",
    "video second": "seconds",
    "video seconds": "seconds",
}


@dataclass(frozen=True)
class Quote:
    """One price from fal's pricing API, as fal sent it: nothing in it is trusted yet."""

    endpoint_id: str
    unit_price: object
    unit: object
    currency: object


class QuoteRefused(Exception):
    """A quote that does not apply to a rule; `reason` says why, for the report and the log.

    `expected` when no quote could ever apply (a rule fal's single figure cannot map onto):
    that is how the catalog is built, not a bad figure from fal, and not worth a warning.
    """

    def __init__(self, reason: str, *, expected: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expected = expected


@dataclass(frozen=True)
class Priced:
    """A rule priced by fal's quote, and what the quote did to it, for the report."""

    pricing: Pricing
    note: str


def apply_quote(rule: Pricing, quote: Quote) -> Priced:
    """The rule priced at fal's quote; QuoteRefused when the quote cannot be trusted for it.

    A rule with one figure takes the quote (within the sanity band). A rule with several tiers
    (resolutions, audio, 4K) takes it only when it is one of its tiers: fal's one figure may be
    any of them (Veo 3 quoted at its audio price would double every silent job if taken as the
    base), so a figure that matches none cannot be placed and the table is kept."""
    if isinstance(rule, ByQuality | TokenBilled):
        raise QuoteRefused(
            "its price depends on quality, size and tokens; fal's single figure cannot be"
            " mapped onto them",
            expected=True,
        )
    if not isinstance(rule, Quotable):
        raise QuoteRefused("its price rule takes no quote", expected=True)
    currency = quote.currency.strip().upper() if isinstance(quote.currency, str) else None
    if currency != "USD":
        raise QuoteRefused(f"fal quotes it in {_shown(quote.currency)}, not USD")
    unit = (
        " ".join(quote.unit.lower().replace("_", " ").split())
        if isinstance(quote.unit, str)
        else None
    )
    if unit is None or _UNITS.get(unit) != rule.unit:
        raise QuoteRefused(
            f"fal bills it per {_shown(quote.unit)}; falbot bills per {rule.unit[:-1]}"
        )
    price = _price(quote.unit_price)
    if price is None:
        raise QuoteRefused(f"fal's price {_shown(quote.unit_price)} is not a positive number")
    tiers = rule.tiers
    if len(set(tiers.values())) > 1:
        return _tier(rule, tiers, price)
    low, high = BAND
    if not low * rule.base_usd <= price <= high * rule.base_usd:
        raise QuoteRefused(
            f"fal's price {_shown(quote.unit_price)} is outside {low}×–{high}× of the built-in"
            f" {format_usd(rule.base_usd)}"
        )
    new = rule.rebased(usd(price))
    return Priced(new, f"{rule.describe()} → {new.describe()}")


def _tier(rule: Pricing, tiers: Mapping[str, Decimal], price: Decimal) -> Priced:
    """A multi-tier rule and fal's figure: the tier it names, or QuoteRefused."""
    named = [name for name, figure in tiers.items() if figure == price]
    if not named:
        known = ", ".join(f"{name} {format_usd(figure)}" for name, figure in tiers.items())
        raise QuoteRefused(
            f"fal's price ${price:f} is none of its tiers ({known}); one figure for a rule with"
            " several cannot be placed, so the table stands"
        )
    return Priced(
        rule, f"fal's {format_usd(price)} is its {' and '.join(named)} price: {rule.describe()}"
    )


def _price(value: object) -> Decimal | None:
    """A finite positive Decimal from a JSON number or numeric string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, str) and len(value) <= 40:
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() and number > 0 else None


def _shown(value: object) -> str:
    """fal's value quoted for a log line or report, cut short."""
    return repr(value)[:40]
