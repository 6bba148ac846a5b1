"""Money: Decimal USD, rounded up to the micro-dollar, shown the way users read prices."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

MICRO = Decimal("0.000001")


def usd(value: Decimal) -> Decimal:
    """Round a price up to the micro-dollar: we never under-charge by a rounding error."""
    return value.quantize(MICRO, rounding=ROUND_CEILING)


def format_usd(value: Decimal) -> str:
    """`$0.039`, `$0.10`, `$1.25`: two decimals at least, no trailing noise past four."""
    q = value.quantize(Decimal("0.0001"), rounding=ROUND_CEILING).normalize()
    exponent = q.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        q = q.quantize(Decimal("0.01"))
    return f"${q:f}"


__all__ = ["MICRO", "format_usd", "usd"]
