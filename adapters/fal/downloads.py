"""Fetching fal's output files: http(s) only, retried when worth it, capped while streaming."""

from __future__ import annotations

import asyncio
import random
from urllib.parse import urlsplit

import httpx

from adapters.fal.answers import RETRY_HINT
from core.errors import BotError, ErrorCode, invalid

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class _Retry(Exception):
    """A try that failed in a way worth trying again."""


async def download(
    client: httpx.AsyncClient, url: str, *, max_bytes: int, attempts: int, retry_delay: float
) -> bytes:
    """The file at `url`; `invalid_input` once it passes `max_bytes`, `provider_unavailable`
    when it cannot be had after `attempts` tries."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid("fal gave an output address I will not fetch.")
    for attempt in range(1, attempts + 1):
        try:
            return await _download_once(client, url, max_bytes)
        except _Retry as exc:
            if attempt == attempts:
                raise BotError(
                    ErrorCode.PROVIDER_UNAVAILABLE,
                    f"I could not download fal's output ({exc}).",
                    hint=RETRY_HINT,
                ) from None
            await backoff(attempt, retry_delay)
    raise AssertionError("unreachable")


async def backoff(attempt: int, base: float) -> None:
    """Sleep `base` × 2^(attempt-1), with ±50% jitter."""
    await asyncio.sleep(base * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))


async def _download_once(client: httpx.AsyncClient, url: str, max_bytes: int) -> bytes:
    try:
        async with client.stream("GET", url) as response:
            if response.status_code in RETRYABLE_STATUSES:
                raise _Retry(f"HTTP {response.status_code}")
            if response.status_code != 200:
                raise BotError(
                    ErrorCode.PROVIDER_UNAVAILABLE,
                    f"fal's output is not available (HTTP {response.status_code}).",
                    hint=RETRY_HINT,
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise _too_big(max_bytes)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise _too_big(max_bytes)
            return bytes(body)
    except httpx.HTTPError as exc:
        raise _Retry(type(exc).__name__) from None


def _too_big(max_bytes: int) -> BotError:
    return invalid(
        f"The output is larger than {max_bytes / 1_048_576:.1f} MiB, the most I fetch.",
        "Ask for a smaller size or a shorter video.",
    )
