"""Slack retries an event it thinks we missed (`X-Slack-Retry-Num`); Bolt does not dedupe."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Protocol


class Claims(Protocol):
    """A dedupe key store; core's `Store.claim` is one."""

    async def claim(self, key: str, now: datetime) -> bool:
        """Record `key`; False when it was seen before."""
        ...


class MemoryClaims:
    """Keys kept in memory for `ttl`, at most `limit` of them: for tests and single runs."""

    def __init__(self, *, ttl: timedelta = timedelta(hours=1), limit: int = 10_000) -> None:
        self._seen: OrderedDict[str, datetime] = OrderedDict()
        self._ttl = ttl
        self._limit = limit

    async def claim(self, key: str, now: datetime) -> bool:
        while self._seen and (
            len(self._seen) >= self._limit or next(iter(self._seen.values())) < now - self._ttl
        ):
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True
