"""The `Store`'s small facts by key (`state_value`), which workspace rules and pending quotes
use, run against every store in `tests/contract/stores.py`."""

from __future__ import annotations

import asyncio

from core.ports import Store
from tests.fakes.clock import START


async def test_a_value_is_none_until_set_then_replaced(store: Store) -> None:
    assert await store.state_value("quote:abc") is None
    await store.set_state_value("quote:abc", '{"state": "pending"}')
    assert await store.state_value("quote:abc") == '{"state": "pending"}'
    await store.set_state_value("quote:abc", '{"state": "confirmed"}')
    assert await store.state_value("quote:abc") == '{"state": "confirmed"}'
    assert await store.state_value("quote:abd") is None


async def test_a_large_value_comes_back_whole(store: Store) -> None:
    """A pending quote keeps its images (base64) until it is confirmed."""
    value = "x" * 3_000_000
    await store.set_state_value("quote:big", value)
    assert await store.state_value("quote:big") == value


async def test_one_of_many_racing_claims_wins(store: Store) -> None:
    """What makes a quote's Confirm start its job once, however often it is pressed."""
    won = await asyncio.gather(*(store.claim("quote:abc:done", START) for _ in range(8)))
    assert won.count(True) == 1
