"""Deduplication of what a platform may send twice: Slack retries an event it thinks falbot
missed (`X-Slack-Retry-Num`; Bolt does not dedupe), and fal retries a webhook delivery."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Claims(Protocol):
    """A dedupe key store; core's `Store.claim` is one."""

    async def claim(self, key: str, now: datetime) -> bool:
        """Record `key`; False when it was seen before."""
        ...
