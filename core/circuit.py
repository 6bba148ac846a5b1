"""A circuit breaker on fal: after repeated provider failures, stop sending it work for a while.

Closed: jobs flow. After `threshold` provider failures in a row (fal unreachable, 5xx, time-outs)
it opens: new jobs are refused at admission with `provider_unavailable` and a retry time (no
credits are taken), and jobs already waiting stay in the line instead of being sent to a fal that
is down. When the cool-down is over it is half-open: one job goes to fal as the probe. A probe
that fal answers closes the circuit; one that fails opens it again, for twice as long (up to
`max_cooldown`).

Only fal's answers move it: a refusal of the input (422) is an answer, so it counts as a success.
"""

from __future__ import annotations

import asyncio
import logging
import math
from enum import StrEnum

from core.errors import BotError, ErrorCode
from core.ports import Clock

log = logging.getLogger(__name__)

PROVIDER_FAILURES = frozenset({ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.TIMEOUT})


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        clock: Clock,
        threshold: int = 5,
        cooldown: float = 30.0,
        max_cooldown: float = 600.0,
    ) -> None:
        if threshold < 1 or cooldown <= 0:
            raise ValueError("threshold must be at least 1 and cooldown positive")
        self._clock = clock
        self._threshold = threshold
        self._base_cooldown = cooldown
        self._max_cooldown = max(cooldown, max_cooldown)
        self._cooldown = cooldown
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self._changed = asyncio.Event()

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._clock.monotonic() < self._opened_at + self._cooldown:
            return CircuitState.OPEN
        return CircuitState.HALF_OPEN

    @property
    def retry_after(self) -> float:
        """Seconds until the circuit lets a probe through (0 when it is not open)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self._cooldown - self._clock.monotonic())

    def check(self) -> None:
        """Refuse a new job while the circuit is open."""
        if self.state is CircuitState.OPEN:
            raise BotError(
                ErrorCode.PROVIDER_UNAVAILABLE,
                "fal is failing right now, so I'm not taking new jobs for a moment.",
                hint="No credits were taken.",
                retry_after=float(max(1, math.ceil(self.retry_after))),
            )

    def observe(self, error: BotError | None, *, settled: bool = True) -> None:
        """Record the outcome of a call to fal: None when fal answered. A submit fal accepted
        is `settled=False`: it proves fal reachable (enough for a probe) but not that jobs
        work, so it does not wipe out the failures counted so far."""
        if error is not None and error.code in PROVIDER_FAILURES:
            self._failure()
        elif error is None or error.code is ErrorCode.PROVIDER_REJECTED:
            self._success(settled=settled or error is not None)

    def probe_ended(self) -> None:
        """The probe job ended without an answer from fal either way (cancelled, say)."""
        if self._probing:
            self._probing = False
            self._notify()

    async def ready(self) -> bool:
        """Wait until a job may go to fal; True when that job is the half-open probe."""
        while True:
            state = self.state
            if state is CircuitState.CLOSED:
                return False
            if state is CircuitState.HALF_OPEN and not self._probing:
                self._probing = True
                log.info("fal circuit half-open: sending one job as the probe")
                return True
            changed = asyncio.ensure_future(self._changed.wait())
            timer = asyncio.ensure_future(self._clock.sleep(self.retry_after))
            waits = {changed} if state is CircuitState.HALF_OPEN else {changed, timer}
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (changed, timer):
                    task.cancel()
                await asyncio.gather(changed, timer, return_exceptions=True)

    def _failure(self) -> None:
        self._failures += 1
        state = self.state
        if state is CircuitState.HALF_OPEN and self._probing:
            self._cooldown = min(self._cooldown * 2, self._max_cooldown)
            self._open("the probe failed")
        elif state is CircuitState.CLOSED and self._failures >= self._threshold:
            self._cooldown = self._base_cooldown
            self._open(f"{self._failures} failures in a row")

    def _success(self, *, settled: bool) -> None:
        if settled:
            self._failures = 0
        if self._opened_at is not None and self.state is not CircuitState.OPEN:
            log.info("fal circuit closed: fal answered again")
            self._opened_at = None
            self._cooldown = self._base_cooldown
            self._probing = False
            self._notify()

    def _open(self, why: str) -> None:
        self._opened_at = self._clock.monotonic()
        self._probing = False
        log.warning("fal circuit open for %.0f s: %s", self._cooldown, why)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
