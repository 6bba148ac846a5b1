"""Failures the simulator can be told to produce, shaped as fal's queue API shapes them:
HTTP errors, error bodies and failed statuses."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# fal's error types and the HTTP status each comes with.
ERROR_STATUS = {
    "request_timeout": 504,
    "startup_timeout": 504,
    "runner_scheduling_failure": 503,
    "runner_connection_timeout": 503,
    "runner_connection_refused": 503,
    "runner_connection_error": 503,
    "runner_incomplete_response": 502,
    "runner_server_error": 500,
    "internal_error": 500,
    "client_cancelled": 499,
    "bad_request": 400,
}

CONTENT_POLICY_MSG = (
    "The content could not be processed because it contained material flagged by a content checker."
)


@dataclass(frozen=True)
class Fault:
    """How one request fails: the answer its result gets, and what its status says.

    `in_status`: the COMPLETED status carries `error` and `error_type` (fal's "COMPLETED with
    an error"); otherwise the failure shows only when the result is fetched.
    `at_submit`: the submit itself is answered with this failure and nothing is queued.
    `fal_headers`: the answer carries `x-fal-request-id` and `X-Fal-Error-Type`, as fal's own
    errors do (without them a 502/503/504 looks like an ingress error to fal-client).
    """

    status: int
    detail: Any
    error_type: str | None = None
    in_status: bool = False
    at_submit: bool = False
    fal_headers: bool = True

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.detail}
        if self.error_type and self.status != 422:
            body["error_type"] = self.error_type
        return body

    def status_error(self) -> str:
        """The short `error` text of a COMPLETED status."""
        if isinstance(self.detail, str):
            return self.detail
        return f"Invalid status code: {self.status}"

    @classmethod
    def validation(
        cls,
        msg: str = "Input should be a valid value",
        *,
        loc: Sequence[str | int] = ("body", "prompt"),
        type: str = "value_error",
        at_submit: bool = False,
    ) -> Fault:
        """A 422 with fal's `{"detail": [{loc, msg, type}]}`."""
        detail = [{"loc": list(loc), "msg": msg, "type": type}]
        return cls(422, detail, at_submit=at_submit)

    @classmethod
    def content_policy(cls, msg: str = CONTENT_POLICY_MSG) -> Fault:
        """A 422 whose detail has `type: "content_policy_violation"`."""
        detail = [
            {
                "loc": ["body", "prompt"],
                "msg": msg,
                "type": "content_policy_violation",
                "ctx": {"extra_info": "flagged by the safety checker"},
            }
        ]
        return cls(422, detail, error_type="content_policy_violation")

    @classmethod
    def server_error(
        cls,
        error_type: str = "runner_server_error",
        *,
        detail: str = "Internal Server Error",
        at_submit: bool = False,
    ) -> Fault:
        """A 5xx (or 499/504, by `error_type`) with `X-Fal-Error-Type`, shown at the result."""
        status = ERROR_STATUS.get(error_type, 500)
        return cls(status, detail, error_type=error_type, at_submit=at_submit)

    @classmethod
    def timeout(cls, error_type: str = "request_timeout") -> Fault:
        return cls.server_error(error_type, detail="Request timed out")

    @classmethod
    def completed_error(
        cls, error_type: str = "runner_server_error", *, detail: str = "The runner crashed"
    ) -> Fault:
        """COMPLETED with `error` and `error_type` in the status, and the error at the result."""
        status = ERROR_STATUS.get(error_type, 500)
        return cls(status, detail, error_type=error_type, in_status=True)

    @classmethod
    def cancelled(cls) -> Fault:
        return cls(499, "Request was cancelled by the client", error_type="client_cancelled")


@dataclass(frozen=True)
class HttpFault:
    """How the next request to one route is answered instead of normally.

    `drop`: the connection is cut (for the status stream: after its first event).
    `delay`: seconds to wait first (a slow answer); with no other field set, the request is then
    served normally.
    """

    status: int | None = 500
    body: Any = None
    text: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False

    @classmethod
    def slow(cls, delay: float) -> HttpFault:
        return cls(status=None, delay=delay)

    @classmethod
    def ingress(cls, status: int = 502) -> HttpFault:
        """An nginx error page without `x-fal-request-id` (fal-client retries these)."""
        return cls(status=status, text="<html><body>502 Bad Gateway<hr>nginx</body></html>")

    @classmethod
    def rate_limited(cls, retry_after: int = 1) -> HttpFault:
        return cls(
            status=429,
            body={"detail": "Too many requests"},
            headers={"Retry-After": str(retry_after)},
        )


ROUTES = (
    "submit",
    "status",
    "stream",
    "result",
    "cancel",
    "token",
    "cdn_upload",
    "initiate",
    "put",
    "cdn_get",
    "pricing",
)


def _fal_error(error_type: str) -> HttpFault:
    """fal's own error answer for `error_type` (with `x-fal-request-id`: final, not retried)."""
    return HttpFault(
        status=ERROR_STATUS[error_type],
        body={"detail": "Simulated failure", "error_type": error_type},
        headers={"x-fal-request-id": "sim-fault", "X-Fal-Error-Type": error_type},
    )


# What a flaky fal does: its own 5xx and time-outs, ingress error pages, cut connections, 429s.
TRANSIENT: tuple[HttpFault, ...] = (
    _fal_error("internal_error"),
    _fal_error("runner_scheduling_failure"),
    _fal_error("request_timeout"),
    HttpFault.ingress(502),
    HttpFault.ingress(503),
    HttpFault(drop=True),
    HttpFault.rate_limited(0),
)


def random_faults(
    rate: float, rng: random.Random, *, faults: Sequence[HttpFault] = TRANSIENT
) -> Callable[[str], HttpFault | None]:
    """A `FalSimulator.chaos` function failing each request with probability `rate`, with one
    of `faults` picked at random (seed `rng` to replay a run)."""

    def pick(route: str) -> HttpFault | None:
        return rng.choice(faults) if rng.random() < rate else None

    return pick
