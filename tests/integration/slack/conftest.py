"""Fixtures: a started fake Slack, the fal simulator (fal-client pointed at it), and the whole
stack over HTTP or Socket Mode, built by the composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.fal.simulator import FalSimulator
from tests.fakes.slack import FakeSlack
from tests.integration.slack.harness import SlackStack, new_fake


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    slack = new_fake()
    await slack.start()
    try:
        yield slack
    finally:
        await slack.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "falbot.db"


@pytest.fixture
async def stack(fake: FakeSlack, fal_sim: FalSimulator, db_path: Path) -> AsyncIterator[SlackStack]:
    opened = await SlackStack.open(fake, fal_sim, db_path, mode="http")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def socket_stack(
    fake: FakeSlack, fal_sim: FalSimulator, db_path: Path
) -> AsyncIterator[SlackStack]:
    opened = await SlackStack.open(fake, fal_sim, db_path, mode="socket")
    try:
        yield opened
    finally:
        await opened.close()
