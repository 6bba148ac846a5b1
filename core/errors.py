"""The one root exception of falbot and its codes."""

from __future__ import annotations

from enum import StrEnum


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
