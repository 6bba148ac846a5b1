"""Token buckets under any sequence of takes, returns, waits and quota changes: a bucket never
holds more than the capacity it is read with, and a take never leaves it below zero."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from core.quota import BucketLimits, BucketState, give, refill, take
from tests.fakes.clock import START

credits = st.decimals(min_value=0, max_value=1000, places=4)
limits = st.builds(BucketLimits, credits, st.decimals(min_value=0, max_value=3600, places=2))
steps = st.lists(
    st.tuples(st.sampled_from(["take", "give", "read"]), limits, credits, st.integers(0, 7200)),
    max_size=30,
)


@given(steps=steps)
def test_a_bucket_never_holds_more_than_its_current_capacity(
    steps: list[tuple[str, BucketLimits, Decimal, int]],
) -> None:
    state: BucketState | None = None
    now = START
    for op, lim, amount, wait_s in steps:
        now += timedelta(seconds=wait_s)
        if op == "take":
            taken = take(state, lim, amount, now)
            assert taken.state.level >= 0 if taken.ok else taken.state.level < amount
            state = taken.state
        elif op == "give":
            state = give(state, lim, amount, now)
        else:
            state = refill(state, lim, now)
        assert state.level <= lim.capacity
