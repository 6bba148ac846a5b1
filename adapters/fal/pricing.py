"""fal's pricing API, read once: `GET {api}/v1/models/pricing?endpoint_id=a,b` answers
`{"prices": [{endpoint_id, unit_price, unit, currency}], "has_more", "next_cursor"}`.

`fetch_prices` asks for every endpoint in one request (following `next_cursor` while
`has_more`) and never raises on fal's faults: it hands back the quotes it got and, when
something went wrong, why. Quotes are passed on as fal sent them; core decides which to trust
(`core.pricing.apply_quote`). Prices are read as `Decimal`, never through a float.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from core.quotes import Quote

log = logging.getLogger(__name__)

FAL_API_URL = "https://api.fal.ai"
PRICING_PATH = "/v1/models/pricing"
TIMEOUT_S = 5.0
MAX_PAGES = 20
MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class PriceFetch:
    """What fal's pricing API gave: quotes, and `problem` when it did not answer in full."""

    quotes: tuple[Quote, ...]
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Refused(Exception):
    """fal's answer cannot be used; the message says why (never a secret)."""


async def fetch_prices(
    *,
    key: str,
    endpoint_ids: Sequence[str],
    api_url: str | None = None,
    within: float = TIMEOUT_S,
    max_pages: int = MAX_PAGES,
) -> PriceFetch:
    """Quotes for `endpoint_ids`; everything within `within` seconds in all."""
    base = (api_url or FAL_API_URL).rstrip("/")
    quotes: list[Quote] = []
    try:
        async with (
            asyncio.timeout(within),
            httpx.AsyncClient(
                base_url=base,
                headers={"Authorization": f"Key {key}", "Accept": "application/json"},
                timeout=within,
                follow_redirects=False,
            ) as client,
        ):
            await _pages(client, list(endpoint_ids), quotes, max_pages)
    except _Refused as exc:
        return PriceFetch(tuple(quotes), str(exc))
    except (TimeoutError, httpx.TimeoutException):
        return PriceFetch(tuple(quotes), f"fal's pricing API did not answer within {within:g} s")
    except httpx.HTTPError as exc:
        # The exception's own text may carry the URL; its type says enough.
        return PriceFetch(
            tuple(quotes), f"could not reach fal's pricing API ({type(exc).__name__})"
        )
    return PriceFetch(tuple(quotes))


async def _pages(
    client: httpx.AsyncClient, endpoint_ids: list[str], quotes: list[Quote], max_pages: int
) -> None:
    params: dict[str, str] = {"endpoint_id": ",".join(endpoint_ids)}
    seen: set[str] = set()
    for _ in range(max_pages):
        page = _page(await client.get(PRICING_PATH, params=params))
        quotes.extend(_quotes(page["prices"]))
        if page.get("has_more") is not True:
            return
        cursor = page.get("next_cursor")
        if not isinstance(cursor, str) or not cursor:
            raise _Refused("fal's pricing API said it had more but gave no cursor")
        if cursor in seen:
            raise _Refused("fal's pricing API gave the same cursor twice")
        seen.add(cursor)
        params["cursor"] = cursor
    raise _Refused(f"fal's pricing API had more than {max_pages} pages")


def _page(response: httpx.Response) -> dict[str, Any]:
    status = response.status_code
    if status in (401, 403):
        raise _Refused(f"the key may not read fal's pricing API (HTTP {status})")
    if status != 200:
        raise _Refused(f"fal's pricing API answered HTTP {status}")
    if len(response.content) > MAX_BODY:
        raise _Refused("fal's pricing API answered with a body too large to be prices")
    try:
        body = json.loads(response.content, parse_float=Decimal)
    except (ValueError, RecursionError):  # RecursionError: nesting too deep to be prices
        raise _Refused("fal's pricing API answered with something that is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("prices"), list):
        raise _Refused("fal's pricing API answered without a list of prices")
    return body


def _quotes(entries: list[Any]) -> list[Quote]:
    """Each entry that names an endpoint, as sent; entries that name none are skipped."""
    found = []
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("endpoint_id"), str):
            found.append(
                Quote(
                    entry["endpoint_id"],
                    entry.get("unit_price"),
                    entry.get("unit"),
                    entry.get("currency"),
                )
            )
        else:
            log.warning("fal's pricing API sent an entry without an endpoint id; skipped")
    return found
