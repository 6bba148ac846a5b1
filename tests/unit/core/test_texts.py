"""Core's words (issue 10, items 15-17): money, waits, options."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from core.errors import BotError, ErrorCode
from core.markup import clock_ref
from core.model_table import build_catalog
from core.money import format_usd
from core.quota import BucketLimits, BucketState, TakeResult
from core.refusals import bucket_refusal
from core.render import format_wait, render_error, render_quota
from core.usage import quota_view

NOW = datetime(2026, 11, 20, 14, 28, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("amount", "shown", "down"),
    [
        ("0", "$0.00", "$0.00"),
        ("0.039", "$0.039", "$0.039"),
        ("0.1", "$0.10", "$0.10"),
        ("0.004", "$0.004", "$0.004"),
        ("0.01425", "$0.0143", "$0.0142"),
        ("0.0000011", "$0.0001", "under $0.0001"),
        ("2.125", "$2.125", "$2.125"),
        ("1.23456", "$1.2346", "$1.2345"),
        ("1234.5", "$1234.50", "$1234.50"),
        ("-0.5", "-$0.50", "-$0.50"),
        ("-0.0000011", "-$0.0001", "-$0.0001"),
    ],
)
def test_money_that_is_not_zero_never_reads_zero(amount: str, shown: str, down: str) -> None:
    assert format_usd(Decimal(amount)) == shown
    assert format_usd(Decimal(amount), down=True) == down


def test_a_wait_is_said_once_in_human_units_with_the_clock_time() -> None:
    error = BotError(ErrorCode.BUSY, "Busy.", retry_after=232.0)
    text = render_error(error, now=NOW)
    # 14:28:10 + 3 min 52 s = 14:32:02
    assert f"Try again in 4 min ({clock_ref(NOW + timedelta(seconds=232))})." in text
    assert text.count("Try again") == 1
    assert format_wait(3 * 86400 + 7200) == "3 days 2 h"
    far = render_error(BotError(ErrorCode.BUSY, "Busy.", retry_after=86400.0), now=NOW)
    assert f"({clock_ref(NOW + timedelta(days=1), with_date=True)})." in far  # with the date


def test_a_bucket_refusal_leaves_the_wait_to_the_renderer() -> None:
    taken = TakeResult(False, BucketState(Decimal("1.1"), NOW), 170.0)
    error = bucket_refusal(
        taken, amount=Decimal("3.9"), limits=BucketLimits(Decimal(5), Decimal(60))
    )
    text = render_error(error, now=NOW)
    assert text.count("Try again in") == 1 and "170 s" not in text and " s;" not in text


def test_validation_names_the_option_users_type_and_what_it_takes() -> None:
    spec = build_catalog().get("flux-dev")
    with pytest.raises(BotError) as caught:
        spec.validate({"prompt": "a fox", "num_images": 9, "aspect_ratio": "5:4"}, image_count=0)
    message = caught.value.message
    assert "`--count` must be 1–4, not `9`" in message
    assert "`--aspect` must be 1:1|16:9|9:16|4:3|3:4|3:2|2:3|21:9, not `5:4`" in message
    assert "num_images" not in message and "aspect_ratio" not in message


def test_quota_says_what_the_default_models_next_job_costs_and_when_it_fits() -> None:
    limits = BucketLimits(Decimal(5), Decimal(60))
    short = quota_view(
        BucketState(Decimal("0.1"), NOW),
        limits,
        next_job_credits=Decimal("0.3"),
        credit_usd=Decimal("0.01"),
        model="flux-schnell",
    )
    text = render_quota(short)
    assert "One image with flux-schnell costs 0.3 credits ($0.003)" in text
    # 0.2 credits at 60 an hour: 12 s, ending at 14:28:22
    assert text.endswith(
        f"you will have enough in 12 s ({clock_ref(NOW + timedelta(seconds=12))})."
    )
    assert "fits now" not in text
    never = quota_view(
        BucketState(Decimal(0), NOW),
        BucketLimits(Decimal("0.2"), Decimal(0)),
        next_job_credits=Decimal("0.3"),
        credit_usd=Decimal("0.01"),
        model="flux-schnell",
    )
    assert "more than your quota lets you gather: ask an admin." in render_quota(never)
