"""Work that should not be cut off half-way when falbot stops: a submit whose request id is not
saved yet, a settlement, a delivery. Shutdown waits for these (for a while) before cancelling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from core.ports import Clock


class Settling:
    def __init__(self) -> None:
        self._running = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    def __len__(self) -> int:
        return self._running

    @asynccontextmanager
    async def finish_before_stopping(self) -> AsyncIterator[None]:
        """Mark the block as work to let finish before stopping (shutdown waits for it)."""
        self._running += 1
        self._quiet.clear()
        try:
            yield
        finally:
            self._running -= 1
            if not self._running:
                self._quiet.set()

    async def quiet(self, *, clock: Clock, within: float) -> bool:
        """Wait until no section runs; False when `within` seconds passed first."""
        if self._quiet.is_set():
            return True
        quiet = asyncio.ensure_future(self._quiet.wait())
        timer = asyncio.ensure_future(clock.sleep(within))
        try:
            await asyncio.wait({quiet, timer}, return_when=asyncio.FIRST_COMPLETED)
            return quiet.done()
        finally:
            for task in (quiet, timer):
                task.cancel()
            await asyncio.gather(quiet, timer, return_exceptions=True)
