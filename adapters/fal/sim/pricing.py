"""The simulator's pricing API: `GET {api_url}/v1/models/pricing?endpoint_id=a,b`.

Answers `{"prices": [{endpoint_id, unit_price, unit, currency}], "has_more", "next_cursor"}` from
`FalSimulator.prices` (endpoint → entry; a test may change, remove or spoil any entry), one page of
`price_page_size` entries at a time (the cursor is an opaque string). Endpoints without an entry
are left out, as fal leaves out ids it does not know.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.model_table import build_catalog
from core.pricing import ByQuality, PerRequest, Quotable, TokenBilled


def default_prices() -> dict[str, dict[str, Any]]:
    """fal's figures as the built-in table has them: each model's base price, in its unit.

    gpt-image has no single figure in the table; fal's page quotes its medium square price.
    Prices are JSON numbers, as fal sends them.
    """
    table: dict[str, dict[str, Any]] = {}
    for spec in build_catalog().all():
        rule = spec.pricing
        if isinstance(rule, TokenBilled):
            rule = rule.per_image
        if isinstance(rule, Quotable):
            price, unit = rule.base_usd, rule.unit
        elif isinstance(rule, ByQuality):
            price, unit = rule.tiers["medium"][0], "images"
        elif isinstance(rule, PerRequest):
            # The vision LLM: fal bills the routed model's tokens, one figure per million.
            price, unit = Decimal("0.30"), "1m tokens"
        else:  # pragma: no cover - every rule in the table is one of the above
            continue
        table[spec.endpoint] = {"unit_price": float(price), "unit": unit, "currency": "USD"}
    return table


def tier_prices(endpoint: str) -> dict[str, Decimal]:
    """Each figure fal could quote for a model of the built-in table (tier name → price):
    `{"720p": 0.20, "with audio": 0.40}` for Veo 3; one unnamed tier for a one-price model."""
    for spec in build_catalog().all():
        if spec.endpoint == endpoint and isinstance(spec.pricing, Quotable):
            return spec.pricing.tiers
    raise ValueError(f"{endpoint} has no quotable price in the built-in table")


def price_page(
    prices: dict[str, dict[str, Any]],
    endpoint_ids: list[str],
    *,
    cursor: str | None,
    page_size: int | None,
) -> dict[str, Any] | None:
    """One page of the answer; None when the cursor is not one this simulator gave out."""
    known = [{"endpoint_id": e, **prices[e]} for e in endpoint_ids if e in prices]
    start = 0
    if cursor:
        if not cursor.startswith("sim-") or not cursor[4:].isdigit():
            return None
        start = int(cursor[4:])
    end = len(known) if page_size is None else start + page_size
    more = end < len(known)
    return {
        "prices": known[start:end],
        "has_more": more,
        "next_cursor": f"sim-{end}" if more else None,
    }


__all__ = ["default_prices", "price_page", "tier_prices"]
