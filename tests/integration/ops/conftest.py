"""Fixtures: the fal simulator, and a whole falbot (`bot.run.serving`) on it with no platform."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.fal.simulator import FalSimulator
from bot.run import Running, serving
from bot.settings import Settings
from tests.integration.fal.fixtures import SIM_KEY


def ops_settings(sim: FalSimulator, db_path: Path, **extra: Any) -> Settings:
    """What an operator would set, pointed at the simulator, on a loopback port the OS picks."""
    values: dict[str, Any] = {
        "FAL_KEY": SIM_KEY,
        "FALBOT_DATABASE": f"sqlite:///{db_path}",
        "FALBOT_FAL_QUEUE_URL": sim.queue_url,
        "FALBOT_FAL_REST_URL": sim.rest_url,
        "FALBOT_FAL_CDN_URL": sim.cdn_url,
        "FALBOT_HTTP_HOST": "127.0.0.1",
        "FALBOT_HTTP_PORT": 0,
        "FALBOT_METRICS_PORT": 0,
        "FALBOT_PROGRESS_INTERVAL": 0.1,
        **extra,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "falbot.db"


@pytest.fixture
async def running(fal_sim: FalSimulator, db_path: Path) -> AsyncIterator[Running]:
    async with serving(ops_settings(fal_sim, db_path)) as started:
        yield started


@pytest.fixture
async def http(running: Running) -> AsyncIterator[aiohttp.ClientSession]:
    """A client for the falbot under test, with short timeouts."""
    base = f"http://127.0.0.1:{running.server.port}"
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(base_url=base, timeout=timeout) as session:
        yield session


@pytest.fixture
async def metrics_http(running: Running) -> AsyncIterator[aiohttp.ClientSession]:
    """A client for the falbot under test's metrics port (loopback only)."""
    assert running.metrics_server is not None
    base = f"http://127.0.0.1:{running.metrics_server.port}"
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(base_url=base, timeout=timeout) as session:
        yield session
