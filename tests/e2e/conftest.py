"""The e2e tests' fal simulator: on loopback in this process, for a `falbot` child to reach
through its base-URL settings (fal-client in this process is not pointed at it). A module
overrides `fal_sim` where it needs its own timings or key."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.fal.simulator import FalSimulator
from tests.e2e.support import running_simulator


@pytest.fixture
async def fal_sim() -> AsyncIterator[FalSimulator]:
    async with running_simulator() as simulator:
        yield simulator
