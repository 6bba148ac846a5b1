"""fal's failures as `BotError`s (which of them fal bills: `core.billing.fal_bills`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.billing import fal_bills  # the rule lives in core, which applies it
from core.errors import BotError, ErrorCode
from core.options import SHOWN, option

CONTENT_POLICY = "content_policy_violation"
TIMEOUT_TYPES = frozenset({"request_timeout", "startup_timeout"})
UNAVAILABLE_TYPES = frozenset(
    {
        "runner_scheduling_failure",
        "runner_incomplete_response",
        "runner_server_error",
        "internal_error",
    }
)
_MAX_DETAIL = 400

_RETRY_HINT = "Try again in a minute."
_SERVER_ERROR = "The model's servers had an error."
# fal's error types in plain words: a person is never shown the code itself.
_UNAVAILABLE = {
    "runner_scheduling_failure": "The model's servers were busy.",
    "runner_connection_timeout": "The model's servers were busy.",
    "runner_connection_refused": "The model's servers were busy.",
    "runner_connection_error": "The model's servers were busy.",
    "runner_incomplete_response": "The model stopped before it finished.",
}

__all__ = ["CONTENT_POLICY", "TIMEOUT_TYPES", "UNAVAILABLE_TYPES", "classify", "fal_bills"]
__all__ += ["render_detail"]


def classify(
    status_code: int | None,
    error_type: str | None,
    detail: Any,
    *,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> BotError:
    """The `BotError` for one fal failure.

    `status_code` is the HTTP status (None when fal reported the error only in a COMPLETED
    status), `error_type` fal's `error_type` / `X-Fal-Error-Type`, and `detail` fal's `detail`
    as sent: a string, or for a 422 a list of `{loc, msg, type}` dicts.
    The error type wins over the status code, since it is the more precise of the two.
    """
    kind = (error_type or "").strip().lower()
    text = render_detail(detail)
    # With a wait to say, the renderer says it (once, with the clock time); else a rough one.
    retry = "" if retry_after is not None else _RETRY_HINT

    def err(code: ErrorCode, message: str, hint: str) -> BotError:
        return BotError(code, message, hint=hint, retry_after=retry_after, request_id=request_id)

    if kind == CONTENT_POLICY or _has_type(detail, CONTENT_POLICY):
        why = f": {text}" if text else "."
        return err(
            ErrorCode.PROVIDER_REJECTED,
            f"fal's content policy refused this request{why}",
            "Change the prompt or the image and try again.",
        )
    if kind in TIMEOUT_TYPES or status_code == 504:
        return err(ErrorCode.TIMEOUT, "The model took too long, and fal stopped waiting.", retry)
    if kind == "client_cancelled" or status_code == 499:
        return err(ErrorCode.CANCELLED, "The request was cancelled at fal.", "")
    if kind in UNAVAILABLE_TYPES or kind.startswith("runner_") or (status_code or 0) >= 500:
        return err(ErrorCode.PROVIDER_UNAVAILABLE, _UNAVAILABLE.get(kind, _SERVER_ERROR), retry)
    if status_code in (401, 403):
        return err(
            ErrorCode.PROVIDER_UNAVAILABLE,
            "fal refused falbot's credentials.",
            "An admin should check the bot's fal key.",
        )
    if status_code == 404:
        return err(ErrorCode.NOT_FOUND, "fal does not know this request.", "")
    if status_code in (408, 409, 429):
        return err(ErrorCode.PROVIDER_UNAVAILABLE, "The model's servers were busy.", retry)
    if status_code is not None or kind in ("bad_request", "validation_error"):
        # 422 (validation), 400 (bad_request) and any other refusal of the input.
        why = f": {text}" if text else "."
        return err(
            ErrorCode.PROVIDER_REJECTED,
            f"The model could not take this request{why}",
            "Change the options or the input and try again.",
        )
    # COMPLETED with an error and no HTTP status or type to go by.
    return err(
        ErrorCode.PROVIDER_UNAVAILABLE,
        f"The model failed: {text}" if text else "The model failed to finish the job.",
        retry,
    )


def render_detail(detail: Any) -> str:
    """fal's `detail` as one readable line: a 422's `msg`s joined, a string as it is."""
    if detail is None:
        return ""
    if isinstance(detail, str):
        return _clip(detail.strip())
    if isinstance(detail, Mapping):
        detail = [detail]
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if not isinstance(item, Mapping):
                parts.append(str(item))
                continue
            msg = str(item.get("msg") or item.get("message") or item.get("type") or "").strip()
            where = _where(item.get("loc"))
            parts.append(f"{where}: {msg}" if where and msg else msg or where)
        return _clip("; ".join(p for p in parts if p))
    return _clip(str(detail))


def _where(loc: Any) -> str:
    if not isinstance(loc, list | tuple):
        return ""
    names = [str(p) for p in loc if str(p) != "body"]
    if len(names) == 1 and names[0] in SHOWN:  # fal's field, named as users type it
        return option(names[0])
    return ".".join(names)


def _has_type(detail: Any, wanted: str) -> bool:
    items = detail if isinstance(detail, list) else [detail]
    return any(isinstance(i, Mapping) and i.get("type") == wanted for i in items)


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"
