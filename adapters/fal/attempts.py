"""A per-call bound on fal-client's own retries.

fal-client resends a request itself after 408/409/429 answers and after any transport error or
timeout, up to 10 times with backoff (about a minute for a server that keeps answering 429).
For a submit that is worse than slow: after a read timeout or a dropped connection the first
POST may already be queued at fal, and a resend would run (and bill) the job twice.

`attempt_budget()` sets, for the calls made inside it, how many requests may be sent in all, and
whether a resend is allowed only after fal explicitly refused the previous try (408/409/429, so
nothing was queued). Two httpx event hooks on fal-client's own HTTP client enforce it: a resend
past the budget raises `RetryRefused`, which fal-client does not catch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import httpx

log = logging.getLogger(__name__)

REFUSED_STATUSES = frozenset({408, 409, 429})


@dataclass
class AttemptBudget:
    limit: int
    only_after_refusal: bool = False
    attempts: int = 0
    last_status: int | None = None  # of the latest try; None while it has no answer


class RetryRefused(Exception):
    """fal-client wanted to send a request again and its budget said no."""

    def __init__(self, budget: AttemptBudget) -> None:
        super().__init__(f"resend refused after {budget.attempts} attempt(s)")
        self.attempts = budget.attempts
        self.last_status = budget.last_status

    @property
    def answered(self) -> bool:
        """True when fal answered the last try (so nothing is in doubt)."""
        return self.last_status is not None


_current: ContextVar[AttemptBudget | None] = ContextVar("fal_attempt_budget", default=None)


@contextmanager
def attempt_budget(limit: int, *, only_after_refusal: bool = False) -> Iterator[AttemptBudget]:
    """Bound the requests fal-client sends for the calls made inside this block."""
    budget = AttemptBudget(limit=max(1, limit), only_after_refusal=only_after_refusal)
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def install_attempt_hooks(client: httpx.AsyncClient) -> None:
    """Add the budget's hooks to fal-client's HTTP client (once)."""
    hooks = client.event_hooks
    if _before_request in hooks["request"]:
        return
    client.event_hooks = {
        "request": [*hooks["request"], _before_request],
        "response": [*hooks["response"], _after_response],
    }


async def _before_request(request: httpx.Request) -> None:
    budget = _current.get()
    if budget is None:
        return
    if budget.attempts >= 1:
        refused = budget.last_status in REFUSED_STATUSES
        if budget.attempts >= budget.limit or (budget.only_after_refusal and not refused):
            log.info(
                "not resending %s %s after %d attempt(s) (last answer %s)",
                request.method,
                request.url.path,
                budget.attempts,
                budget.last_status,
            )
            raise RetryRefused(budget)
    budget.attempts += 1
    budget.last_status = None


async def _after_response(response: httpx.Response) -> None:
    budget = _current.get()
    if budget is None:
        return
    budget.last_status = response.status_code
    if response.status_code in REFUSED_STATUSES and budget.attempts >= budget.limit:
        # fal-client would back off and try again; the budget is spent, so stop now.
        raise RetryRefused(budget)
