"""fal's answers and transport failures as `BotError`s (the HTTP side of `errors.classify`)."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from fal_client import FalClientHTTPError

from adapters.fal.attempts import RetryRefused
from adapters.fal.errors import classify
from core.errors import BotError, ErrorCode

log = logging.getLogger(__name__)

RETRY_HINT = "Try again in a minute."


def worth_retrying(response: httpx.Response) -> bool:
    """Whether an answer to an idempotent GET may be had by asking again."""
    if response.status_code in (408, 429):
        return True
    # fal's own answers (x-fal-request-id) are final; only an ingress hiccup is retried.
    return response.status_code in (502, 503, 504) and "x-fal-request-id" not in response.headers


def http_error(exc: FalClientHTTPError, request_id: str | None = None) -> BotError:
    """fal-client's HTTP error; its `message` is fal's `detail` as sent."""
    headers = {k.lower(): v for k, v in exc.response_headers.items()}
    return classify(
        exc.status_code,
        exc.error_type,
        exc.message,
        request_id=request_id or headers.get("x-fal-request-id"),
        retry_after=_retry_after(headers.get("retry-after")),
    )


def response_error(response: httpx.Response, request_id: str) -> BotError:
    """A failed answer read directly (as fal-client's `_raise_for_status` reads it)."""
    detail: Any = response.text
    error_type = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        detail = body.get("detail", response.text)
        error_type = body.get("error_type")
    error_type = error_type or response.headers.get("x-fal-error-type")
    return classify(
        response.status_code,
        error_type,
        detail,
        request_id=request_id,
        retry_after=_retry_after(response.headers.get("retry-after")),
    )


def refused(exc: RetryRefused, request_id: str) -> BotError:
    if exc.answered:
        return classify(exc.last_status, None, None, request_id=request_id)
    return BotError(
        ErrorCode.PROVIDER_UNAVAILABLE,
        "fal did not answer.",
        hint=RETRY_HINT,
        request_id=request_id,
    )


def transport_error(exc: httpx.HTTPError, what: str, request_id: str | None = None) -> BotError:
    # Only the exception's class: its text may carry URLs, and nothing here needs them.
    log.warning("fal %s failed: %s", what, type(exc).__name__)
    if isinstance(exc, httpx.TimeoutException):
        return BotError(
            ErrorCode.TIMEOUT,
            "fal did not answer in time.",
            hint=RETRY_HINT,
            request_id=request_id,
        )
    return BotError(
        ErrorCode.PROVIDER_UNAVAILABLE,
        "I could not reach fal.",
        hint=RETRY_HINT,
        request_id=request_id,
    )


def unreadable(what: str, exc: Exception, request_id: str | None = None) -> BotError:
    log.warning("fal %s answer unreadable: %s", what, type(exc).__name__)
    return BotError(
        ErrorCode.PROVIDER_UNAVAILABLE,
        f"fal sent a {what} answer I could not read.",
        hint=RETRY_HINT,
        request_id=request_id,
    )


def _retry_after(value: str | None) -> float | None:
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < 86_400 else None
