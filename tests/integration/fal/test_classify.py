"""fal's failure descriptions → BotError codes and messages (pure)."""

from __future__ import annotations

import pytest

from adapters.fal.errors import classify, fal_bills, render_detail
from core.errors import BotError, ErrorCode


@pytest.mark.parametrize(
    ("status", "error_type", "code"),
    [
        (422, None, ErrorCode.PROVIDER_REJECTED),
        (400, "bad_request", ErrorCode.PROVIDER_REJECTED),
        (500, "runner_server_error", ErrorCode.PROVIDER_UNAVAILABLE),
        (500, "internal_error", ErrorCode.PROVIDER_UNAVAILABLE),
        (503, "runner_scheduling_failure", ErrorCode.PROVIDER_UNAVAILABLE),
        (503, "runner_connection_timeout", ErrorCode.PROVIDER_UNAVAILABLE),
        (502, "runner_incomplete_response", ErrorCode.PROVIDER_UNAVAILABLE),
        (502, None, ErrorCode.PROVIDER_UNAVAILABLE),
        (504, "request_timeout", ErrorCode.TIMEOUT),
        (504, "startup_timeout", ErrorCode.TIMEOUT),
        (504, None, ErrorCode.TIMEOUT),
        (499, "client_cancelled", ErrorCode.CANCELLED),
        (404, None, ErrorCode.NOT_FOUND),
        (401, None, ErrorCode.PROVIDER_UNAVAILABLE),
        (429, None, ErrorCode.PROVIDER_UNAVAILABLE),
        (None, "runner_server_error", ErrorCode.PROVIDER_UNAVAILABLE),
        (None, "request_timeout", ErrorCode.TIMEOUT),
        (None, None, ErrorCode.PROVIDER_UNAVAILABLE),
    ],
)
def test_status_and_error_type_map_to_a_code(
    status: int | None, error_type: str | None, code: ErrorCode
) -> None:
    error = classify(status, error_type, "detail text", request_id="req-1", retry_after=3.0)
    assert isinstance(error, BotError)
    assert error.code is code
    assert error.request_id == "req-1" and error.retry_after == 3.0
    assert error.message


def test_a_422_list_is_rendered_as_readable_messages() -> None:
    detail = [
        {"loc": ["body", "prompt"], "msg": "String should have at most 2000 characters"},
        {"loc": ["body", "image_urls", 0], "msg": "Could not download", "type": "y"},
    ]
    error = classify(422, None, detail)
    assert error.code is ErrorCode.PROVIDER_REJECTED
    assert error.message == (
        "The model could not take this request: prompt: String should have at most 2000 "
        "characters; "
        "image_urls.0: Could not download"
    )
    assert "{" not in error.message and "loc" not in error.message


def test_a_422_names_fals_field_as_the_option_users_type() -> None:
    detail = [{"loc": ["body", "num_images"], "msg": "Input should be less than or equal to 4"}]
    error = classify(422, None, detail)
    assert "`--count`: Input should be" in error.message
    assert "num_images" not in error.message


def test_fal_failures_say_what_happened_in_plain_words_not_fals_code() -> None:
    busy = classify(503, "runner_scheduling_failure", "no runner", request_id="req-9")
    assert busy.message == "The model's servers were busy."
    assert busy.hint == "Try again in a minute."
    for status, kind in [
        (503, "runner_scheduling_failure"),
        (503, "runner_connection_timeout"),
        (502, "runner_incomplete_response"),
        (500, "runner_server_error"),
        (500, "internal_error"),
        (504, "request_timeout"),
        (504, "startup_timeout"),
        (499, "client_cancelled"),
    ]:
        error = classify(status, kind, "boom")
        assert kind not in error.message + error.hint, (kind, error.message)
    # A wait fal gave is said once, by the renderer: no second, rougher one in the hint.
    assert classify(503, "runner_scheduling_failure", None, retry_after=30).hint == ""


def test_content_policy_is_named_whether_typed_in_the_detail_or_the_header() -> None:
    in_detail = [{"loc": ["body", "prompt"], "msg": "flagged", "type": "content_policy_violation"}]
    for error in (
        classify(422, None, in_detail),
        classify(422, "content_policy_violation", "flagged"),
    ):
        assert error.code is ErrorCode.PROVIDER_REJECTED
        assert "content policy" in error.message and "flagged" in error.message


def test_render_detail_handles_strings_dicts_and_junk() -> None:
    assert render_detail("  Request timed out ") == "Request timed out"
    assert render_detail({"msg": "bad"}) == "bad"
    assert render_detail(None) == ""
    junk = [1, {"type": "missing", "loc": ["body", "prompt"]}]
    assert render_detail(junk) == "1; prompt: missing"
    assert len(render_detail("x" * 5000)) == 400


def test_only_a_cancellation_of_a_running_request_is_billed() -> None:
    cancelled = classify(499, "client_cancelled", "cancelled")
    assert fal_bills(cancelled, was_running=True)
    assert not fal_bills(cancelled, was_running=False)
    for status, error_type in [(422, None), (500, "runner_server_error"), (504, "request_timeout")]:
        error = classify(status, error_type, "x")
        assert not fal_bills(error) and not fal_bills(error, was_running=True)
