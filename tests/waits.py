"""Waiting in tests without fixed sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the loop run until `condition` holds; TimeoutError after `timeout` seconds. For what
    sets no event of its own (each engine step is a few loop turns; a fake's submit begun)."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - what is waited on sets no event
            await asyncio.sleep(0)
