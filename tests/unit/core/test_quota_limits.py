"""A bucket never holds more than its current capacity: a lowered quota applies at once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from core.admin import AdminService
from core.admin_commands import SetQuota, ShowQuota
from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.quota import BucketLimits, BucketState, give, refill, take
from tests.fakes.asking import submit
from tests.fakes.clock import START
from tests.fakes.reply import RecordingReply
from tests.unit.core.conftest import ADMIN, ALICE, request

pytestmark = pytest.mark.usefixtures("ticking")

LOWERED = BucketLimits(Decimal(1), Decimal(0))


def test_a_level_above_a_lowered_capacity_is_cut_to_it() -> None:
    full = BucketState(Decimal("95.01"), START)
    later = START + timedelta(minutes=5)
    assert refill(full, LOWERED, later).level == 1
    assert not take(full, LOWERED, Decimal("2.5"), later).ok
    assert give(full, LOWERED, Decimal(-1), later).level == 0  # a charge starts from the cap


async def test_a_lowered_quota_refuses_the_very_next_job(
    engine: Engine, admin: AdminService
) -> None:
    first = RecordingReply()
    await submit(engine, request(model="flux-schnell"), first)  # alice's bucket now exists
    await first.wait()
    assert "99.70 of 100 credits" in await admin.handle(ShowQuota("alice"), actor=ADMIN)

    await admin.handle(SetQuota("alice", "1", "0"), actor=ADMIN)

    with pytest.raises(BotError) as err:  # flux-dev, one megapixel: 2.5 credits
        await submit(engine, request(model="flux-dev"), RecordingReply())
    assert err.value.code is ErrorCode.QUOTA_EXHAUSTED
    assert (await engine.quota(ALICE)).level == 1
    shown = await admin.handle(ShowQuota("alice"), actor=ADMIN)
    assert "1.00 of 1 credits" in shown and "99.70" not in shown
