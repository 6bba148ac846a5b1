"""`Store.exclusive(name)`, on every store: one holder of a name at a time (on PostgreSQL, across
processes: tests/integration/postgres/test_exclusive.py); other names are free; an exception
leaves the lock free; the store's other methods work inside it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

# Long enough for a second holder that was let in wrongly to have got in (it needs a few loop
# turns, or one round trip to PostgreSQL), short enough to keep the suite quick.
NOT_IN_WITHIN = 0.3


async def test_a_second_holder_waits_until_the_first_leaves(store: Any) -> None:
    events: list[str] = []
    first_in, let_go = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with store.exclusive("discord:commands"):
            events.append("first in")
            first_in.set()
            await let_go.wait()
            events.append("first out")

    async def second() -> None:
        await first_in.wait()
        async with store.exclusive("discord:commands"):
            events.append("second in")

    one, two = asyncio.create_task(first()), asyncio.create_task(second())
    try:
        await asyncio.wait_for(first_in.wait(), 5)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(two), NOT_IN_WITHIN)
        assert events == ["first in"]
        let_go.set()
        await asyncio.wait_for(asyncio.gather(one, two), 5)
    finally:
        let_go.set()
        for task in (one, two):
            task.cancel()
        await asyncio.gather(one, two, return_exceptions=True)
    assert events == ["first in", "first out", "second in"]


async def test_other_names_are_not_held_and_the_store_works_inside(store: Any) -> None:
    async with store.exclusive("a"), asyncio.timeout(5), store.exclusive("b"):
        await store.set_state_value("k", "v")
        assert await store.state_value("k") == "v"


async def test_a_lock_left_by_an_exception_is_free_again(store: Any) -> None:
    with pytest.raises(RuntimeError):
        async with store.exclusive("x"):
            raise RuntimeError("registration failed")
    async with asyncio.timeout(5), store.exclusive("x"):
        pass


async def test_a_holder_cancelled_while_waiting_takes_nothing(store: Any) -> None:
    async with store.exclusive("y"):
        waiting = asyncio.create_task(_enter(store, "y"))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(waiting), NOT_IN_WITHIN)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
    async with asyncio.timeout(5), store.exclusive("y"):
        pass


async def _enter(store: Any, name: str) -> None:
    async with store.exclusive(name):
        pass
