"""Money: Decimal USD, rounded up to the micro-dollar, shown the way users read prices."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_UP, Decimal

MICRO = Decimal("0.000001")
_CENT = Decimal("0.01")
_SHOWN = Decimal("0.0001")  # the finest figure a person is shown


def usd(value: Decimal) -> Decimal:
    """Round a price up to the micro-dollar: we never under-charge by a rounding error."""
    return value.quantize(MICRO, rounding=ROUND_CEILING)


def format_usd(value: Decimal, *, down: bool = False) -> str:
    """`$0.039`, `$0.10`, `$1.25`, `-$0.50`: two decimals at least, no trailing noise past four.

    A figure that is not zero never reads `$0.00`: it is rounded away from zero (`down` rounds
    towards it, for what is left of a budget, which must not be overstated), and what is still
    too small to show reads `under $0.0001` (a negative one `-$0.0001`). Every text, the chart
    and its table use this, so they agree to the digit.
    """
    sign = "-" if value < 0 else ""
    size = abs(value)
    rounding = ROUND_DOWN if down else ROUND_UP
    shown = size.quantize(_SHOWN, rounding=rounding)
    if shown == 0 and size != 0:  # only when rounding down
        return f"-${_SHOWN}" if sign else f"under ${_SHOWN}"
    shown = shown.normalize()
    exponent = shown.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        shown = shown.quantize(_CENT)
    return f"{sign}${shown:f}"


__all__ = ["MICRO", "format_usd", "usd"]
