"""fal's webhooks as the engine sees them: outcomes by request id, waited for with a limit.

The adapter checks a webhook's signature and turns it into a `FalOutcome`; the engine waits for
the outcome of each request it sent with a webhook URL. Only those requests are expected: a
request id falbot did not submit (another fal account pointing its webhooks here) or no longer
waits for is never kept. A webhook may arrive before the engine has even read the submit's
answer, so while a submit is under way an outcome of a request not yet known is kept (a few,
bounded), and dropped once no submit is under way that could claim it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Mapping
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
    """Outcomes by request id. With `enabled` off (no webhook URL) nothing is expected."""

    def __init__(
        self,
        *,
        clock: Clock,
        enabled: bool = True,
        keep: int = 1_000,
        unconfirmed: int = 100,
        expected: int = 100_000,
    ) -> None:
        self._clock = clock
        self._enabled = enabled
        self._keep = keep
        self._unconfirmed_cap = unconfirmed
        self._expected_cap = expected
        self._waiting: dict[str, asyncio.Future[FalOutcome]] = {}
        self._early: OrderedDict[str, FalOutcome] = OrderedDict()
        self._unconfirmed: OrderedDict[str, FalOutcome] = OrderedDict()
        self._expected: OrderedDict[str, None] = OrderedDict()
        self._submitting = 0

    async def submitted(self, submit: Awaitable[str]) -> str:
        """Await a submit to fal and expect the webhook of the request id it returns."""
        if not self._enabled:
            return await submit
        self._submitting += 1
        try:
            request_id = await submit
            self.expect(request_id)
            return request_id
        finally:
            self._submitting -= 1
            if self._submitting == 0:
                self._unconfirmed.clear()  # no submit left that could claim them

    def expect(self, request_id: str) -> None:
        """A request falbot sent (or resumed after a restart) and waits to hear about."""
        if not self._enabled:
            return
        self._expected[request_id] = None
        while len(self._expected) > self._expected_cap:
            self._expected.popitem(last=False)
        early = self._unconfirmed.pop(request_id, None)
        if early is not None:
            self._keep_early(early)

    def expects(self, request_id: str) -> bool:
        """Whether a webhook for this request is wanted: one falbot waits for, or (while a
        submit is under way) one whose id may be the answer it has not read yet."""
        return request_id in self._expected or (self._enabled and self._submitting > 0)

    def deliver(self, outcome: FalOutcome) -> bool:
        """Hand an outcome to whoever waits for it (or keep it); False if it came before or
        is not expected (then nothing is kept)."""
        request_id = outcome.request_id
        future = self._waiting.get(request_id)
        if future is not None:
            if future.done():
                return False
            future.set_result(outcome)
            return True
        if request_id in self._early or request_id in self._unconfirmed:
            return False
        if request_id in self._expected:
            self._keep_early(outcome)
            return True
        if self._enabled and self._submitting > 0:
            self._unconfirmed[request_id] = outcome
            while len(self._unconfirmed) > self._unconfirmed_cap:
                self._unconfirmed.popitem(last=False)
            return True
        return False

    def _keep_early(self, outcome: FalOutcome) -> None:
        self._early[outcome.request_id] = outcome
        while len(self._early) > self._keep:
            self._early.popitem(last=False)

    async def wait(self, request_id: str, *, within: float) -> FalOutcome | None:
        """The request's outcome, or None when none came within `within` seconds. Once this
        returns the request is no longer expected: a late webhook is not kept."""
        self.expect(request_id)
        try:
            early = self._early.pop(request_id, None)
            if early is not None:
                return early
            return await self._wait(request_id, within)
        finally:
            self._expected.pop(request_id, None)

    async def _wait(self, request_id: str, within: float) -> FalOutcome | None:
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
