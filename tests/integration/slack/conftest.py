"""Fixtures: a started fake Slack, a fal gateway, and the whole stack over HTTP or Socket Mode."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.fal import FakeFal
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
def fal() -> FakeFal:
    return FakeFal()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "falbot.db"


@pytest.fixture
async def stack(fake: FakeSlack, fal: FakeFal, db_path: Path) -> AsyncIterator[SlackStack]:
    opened = await SlackStack.open(fake, fal, db_path, mode="http")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def socket_stack(fake: FakeSlack, fal: FakeFal, db_path: Path) -> AsyncIterator[SlackStack]:
    opened = await SlackStack.open(fake, fal, db_path, mode="socket")
    try:
        yield opened
    finally:
        await opened.close()
