"""The fal simulator and a gateway on it, for any test that needs fal (import these fixtures).

from tests.integration.fal.fixtures import fal_gateway, fal_sim  # in a conftest.py
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from adapters.fal.gateway import FalClientGateway
from adapters.fal.hosts import point_fal_client_at
from adapters.fal.simulator import FalSimulator

SIM_KEY = "sim-key-5f2c9a71d0e4b8"


@asynccontextmanager
async def running_fal_simulator(key: str = SIM_KEY) -> AsyncIterator[FalSimulator]:
    """A started simulator with fal-client pointed at it; both undone on exit."""
    sim = FalSimulator(key=key)
    await sim.start()
    point_fal_client_at(queue_url=sim.queue_url, rest_url=sim.rest_url, cdn_url=sim.cdn_url)
    try:
        yield sim
    finally:
        point_fal_client_at(queue_url=None, rest_url=None, cdn_url=None)
        await sim.close()


def fast_gateway(key: str = SIM_KEY, **overrides: object) -> FalClientGateway:
    """A gateway with test-sized timeouts, poll intervals and retry delays."""
    options: dict[str, object] = {
        "timeout": 5.0,
        "poll_interval": (0.02, 0.1),
        "retry_delay": 0.01,
        **overrides,
    }
    return FalClientGateway(key=key, **options)  # type: ignore[arg-type]


@pytest.fixture
async def fal_sim() -> AsyncIterator[FalSimulator]:
    async with running_fal_simulator() as sim:
        yield sim


@pytest.fixture
async def fal_gateway(fal_sim: FalSimulator) -> AsyncIterator[FalClientGateway]:
    gateway = fast_gateway()
    try:
        yield gateway
    finally:
        await gateway.aclose()
