"""The engine on its real adapters (fal-client on the simulator, SQLite), with fal's webhooks
received over loopback HTTP by the real receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web

import tests.property.profiles  # noqa: F401  (hypothesis settings: derandomized in CI)
from adapters.fal.gateway import FalClientGateway
from adapters.fal.simulator import FalSimulator
from adapters.fal.webhook import FalWebhookReceiver, JwksKeys, WebhookVerifier
from adapters.sqlite.store import SqliteStore
from bot.clock import SystemClock
from core.engine import Engine, EngineConfig
from core.model_table import build_catalog
from core.quota import BucketLimits
from tests.e2e.process import free_port
from tests.fakes.reply import RecordingReplyFactory
from tests.integration.fal.fixtures import fast_gateway


@pytest.fixture
async def gateway(fal_sim: FalSimulator) -> AsyncIterator[FalClientGateway]:
    fal = fast_gateway()
    try:
        yield fal
    finally:
        await fal.aclose()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(tmp_path / "falbot.db")
    try:
        yield opened
    finally:
        await opened.close()


@dataclass
class Hooked:
    """An engine taking fal's webhooks at `url`, through `receiver` and its `keys`."""

    engine: Engine
    receiver: FalWebhookReceiver
    keys: JwksKeys
    replies: RecordingReplyFactory
    url: str


@pytest.fixture
def webhook_wait() -> float:
    """How long the engine waits for a webhook (parametrize `webhook_wait` to change it)."""
    return 30.0


@pytest.fixture
async def hooked(
    fal_sim: FalSimulator, gateway: FalClientGateway, store: SqliteStore, webhook_wait: float
) -> AsyncIterator[Hooked]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/fal/webhook"
    replies = RecordingReplyFactory()
    engine = Engine(
        store=store,
        fal=gateway,
        clock=SystemClock(),
        catalog=build_catalog(),
        config=EngineConfig(
            default_limits=BucketLimits(Decimal(1000), Decimal(0)),
            max_concurrency=4,
            progress_interval=0.1,
            webhook_url=url,
            webhook_wait=webhook_wait,
        ),
    )
    engine.add_reply_factory(replies)
    keys = JwksKeys(fal_sim.jwks_url)
    receiver = FalWebhookReceiver(
        sink=engine, claims=store, verifier=WebhookVerifier(keys), keys=keys
    )
    http = web.Application()
    receiver.add_routes(http)
    runner = web.AppRunner(http, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await engine.start()
    try:
        yield Hooked(engine, receiver, keys, replies, url)
    finally:
        await engine.stop()
        await runner.cleanup()
        await receiver.aclose()
