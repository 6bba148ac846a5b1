"""fal's webhooks as the engine sees them: outcomes by request id, waited for with a limit.

The adapter checks a webhook's signature and turns it into a `FalOutcome`; the engine waits for
the outcome of each request it sent with a webhook URL. A webhook may arrive before the engine
has even read the submit's answer, so outcomes nobody waits for yet are kept for a while
(bounded), and a wait finds them.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import BotError
from core.ports import Clock


@dataclass(frozen=True)
class FalOutcome:
    """How a request ended at fal, as its webhook said: the output, or the error, or neither
    (fal could not include the payload: fetch the result)."""

    request_id: str
    data: Mapping[str, Any] | None = None
    error: BotError | None = None


class WebhookOutcomes:
    def __init__(self, *, clock: Clock, keep: int = 10_000) -> None:
        self._clock = clock
        self._keep = keep
        self._waiting: dict[str, asyncio.Future[FalOutcome]] = {}
        self._early: OrderedDict[str, FalOutcome] = OrderedDict()

    def deliver(self, outcome: FalOutcome) -> bool:
        """Hand an outcome to whoever waits for it (or keep it); False if it came before."""
        future = self._waiting.get(outcome.request_id)
        if future is not None:
            if future.done():
                return False
            future.set_result(outcome)
            return True
        if outcome.request_id in self._early:
            return False
        self._early[outcome.request_id] = outcome
        while len(self._early) > self._keep:
            self._early.popitem(last=False)
        return True

    async def wait(self, request_id: str, *, within: float) -> FalOutcome | None:
        """The request's outcome, or None when none came within `within` seconds."""
        early = self._early.pop(request_id, None)
        if early is not None:
            return early
        future: asyncio.Future[FalOutcome] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        timer = asyncio.ensure_future(self._clock.sleep(within))
        try:
            waits: set[asyncio.Future[Any]] = {future, timer}
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            return future.result() if future.done() else None
        finally:
            timer.cancel()
            await asyncio.gather(timer, return_exceptions=True)
            self._waiting.pop(request_id, None)
