"""The one root exception of falbot and its codes; and how a chat platform says a message
cannot be sent now (`RetryLater`) or ever (`Undeliverable`)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    INVALID_INPUT = "invalid_input"
    NOT_ALLOWED = "not_allowed"
    QUOTA_EXHAUSTED = "quota_exhausted"
    BUDGET_EXHAUSTED = "budget_exhausted"
    BUSY = "busy"
    PROVIDER_REJECTED = "provider_rejected"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    NOT_FOUND = "not_found"
    INTERNAL = "internal"


class BotError(Exception):
    """A failure a user can be told about: what happened, and what to do next.

    ``retry_after`` is in seconds. ``request_id`` is fal's, when fal was involved.
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        hint: str = "",
        retry_after: float | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.retry_after = retry_after
        self.request_id = request_id

    def __repr__(self) -> str:
        return f"BotError({self.code.value!r}, {self.message!r})"

    def to_dict(self) -> dict[str, object]:
        """The structured form `{code, message, hint, retry_after, request_id}`."""
        return {
            "code": self.code.value,
            "message": self.message,
            "hint": self.hint,
            "retry_after": self.retry_after,
            "request_id": self.request_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> BotError:
        retry = data.get("retry_after")
        request_id = data.get("request_id")
        return cls(
            ErrorCode(str(data.get("code", ErrorCode.INTERNAL.value))),
            str(data.get("message", "")),
            hint=str(data.get("hint") or ""),
            retry_after=float(retry) if isinstance(retry, int | float) else None,
            request_id=str(request_id) if request_id else None,
        )


def internal_error(*, request_id: str | None = None) -> BotError:
    """What a person is told when falbot itself failed (the details go to the log only)."""
    return BotError(
        ErrorCode.INTERNAL,
        "Something went wrong on my side.",
        hint="Try again; if it keeps happening, tell an admin.",
        request_id=request_id,
    )


def invalid(message: str, hint: str = "") -> BotError:
    return BotError(ErrorCode.INVALID_INPUT, message, hint=hint)


def not_allowed(message: str, hint: str = "") -> BotError:
    return BotError(ErrorCode.NOT_ALLOWED, message, hint=hint)


class RetryLater(Exception):
    """A chat platform cannot take a message now. ``after`` is how many seconds it asked for
    (its Retry-After), or None when it did not say (an outage: the caller backs off)."""

    def __init__(self, reason: str, *, after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.after = after

    @classmethod
    def from_headers(cls, reason: str, headers: Mapping[str, Any] | None) -> RetryLater:
        """From a rate-limited answer's headers: Discord's ``X-RateLimit-Reset-After`` (in
        fractions of a second) or the standard ``Retry-After`` (seconds), any spelling."""
        by_name = {str(k).lower(): v for k, v in (headers or {}).items()}
        for name in ("x-ratelimit-reset-after", "retry-after"):
            value = by_name.get(name)
            if isinstance(value, list | tuple):  # slack_sdk keeps each header as a list
                value = value[0] if value else None
            try:
                seconds = float(value) if value is not None else None
            except ValueError:
                continue
            if seconds is not None and 0 <= seconds < 86_400:
                return cls(reason, after=seconds)
        return cls(reason)


class Undeliverable(Exception):
    """A chat platform will never take this message (the bot may not post there, the message
    is malformed): trying it again cannot help."""


class LeaseLost(Exception):
    """Another process took this job over (this one's lease on it ran out): this process
    must leave the job alone; its new owner carries it on."""

    def __init__(self, job_id: str, owner: str) -> None:
        super().__init__(f"job {job_id[:8]} is now held by {owner}")
        self.job_id = job_id
        self.owner = owner
