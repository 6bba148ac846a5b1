"""The composition root: the one place that builds objects and connects them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from adapters.fal.gateway import FalClientGateway
from adapters.fal.hosts import point_fal_client_at
from adapters.fal.pricing import FAL_API_URL, fetch_prices
from adapters.fal.webhook import FalWebhookReceiver
from adapters.media_fetch import MediaFetcher
from adapters.postgres import PostgresStore
from bot.clock import SystemClock
from bot.settings import Settings
from bot.store import AppStore, open_store
from core.admin import AdminService
from core.catalog import Catalog
from core.engine import Engine, EngineConfig
from core.model_table import build_catalog
from core.painting import Painter
from core.ports import Clock, ReplyFactory
from core.quota import BucketLimits
from core.repricing import reprice

log = logging.getLogger(__name__)

# Seconds the start waits for fal's pricing API before going on with the built-in table.
PRICING_WAIT_S = 5.0


@dataclass
class App:
    """Everything one falbot process runs, closed in reverse order of opening."""

    settings: Settings
    clock: Clock
    store: AppStore
    fal: FalClientGateway
    engine: Engine
    admin: AdminService
    fetcher: MediaFetcher
    painter: Painter  # the region painter's links and jobs (served at /paint/…)
    extras: dict[str, Any] = field(default_factory=dict)
    webhook: FalWebhookReceiver | None = None  # with FALBOT_PUBLIC_URL: serves /fal/webhook
    _stack: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def close(self) -> None:
        await self._stack.aclose()

    def add_reply_factory(self, factory: ReplyFactory) -> None:
        """A platform's replies: for its jobs after a restart, and for the painter's jobs."""
        self.engine.add_reply_factory(factory)
        self.painter.add_reply_factory(factory)


async def priced_catalog(
    settings: Settings, *, within: float = PRICING_WAIT_S, current: Catalog | None = None
) -> Catalog:
    """The catalog priced from fal's pricing API where its quotes can be trusted.

    When refreshing is off or fal does not answer: `current` (a later refresh keeps the prices
    it has), else the built-in table; one warning, never the key. Quotes are always weighed
    against the built-in table, so a run of refreshes cannot drift away from it."""
    builtin = build_catalog()
    keep = current or builtin
    kept = "the prices as they were" if current is not None else "the built-in table"
    off = settings.pricing_off
    if off is not None or settings.fal_key is None:
        log.info("prices: %s (%s)", kept, off or "FAL_KEY is not set")
        return keep
    api = settings.fal_api_url or FAL_API_URL
    try:
        fetched = await fetch_prices(
            key=settings.fal_key.get_secret_value(),
            endpoint_ids=[spec.endpoint for spec in builtin.all()],
            api_url=api,
            within=within,
        )
        if not fetched.quotes:
            log.warning(
                "prices: %s; fal's pricing API gave no prices (%s)",
                kept,
                fetched.problem or "an empty list",
            )
            return keep
        if fetched.problem is not None:
            log.warning("prices: fal's pricing API answered in part (%s)", fetched.problem)
        repricing = reprice(builtin, fetched.quotes, source="fal's pricing API")
    except Exception as exc:  # pricing never stops a start
        log.warning("prices: %s; the refresh failed (%s)", kept, type(exc).__name__)
        return keep
    changed = 0
    for report in repricing.reports:
        if report.refused:
            log.warning("price of %s: %s", report.model, report.detail)
            continue
        before = keep.get(report.model).price_text
        after = repricing.catalog.get(report.model).price_text
        if before != after:  # a line only when a price changed: a daily refresh is quiet
            changed += 1
            log.info("price of %s: %s → %s", report.model, before, after)
        else:
            log.debug("price of %s: %s", report.model, report.detail)
    if repricing.unknown:
        log.debug("prices: fal also quoted %s (not in the catalog)", ", ".join(repricing.unknown))
    if current is None or changed:
        log.info("prices: %s", repricing.summary())
    return repricing.catalog


async def keep_prices_fresh(
    engine: Engine,
    settings: Settings,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Read fal's prices again every FALBOT_PRICING_REFRESH_HOURS, for as long as it runs; a
    refresh that fails keeps the prices the engine has."""
    every = settings.pricing_refresh_hours * 3600
    while True:
        await sleep(every)
        try:
            table = engine.live_catalog
            table.use(await priced_catalog(settings, current=table.catalog))
        except Exception:  # a refresh never stops the bot
            log.exception("prices: the refresh failed; the prices stay as they were")


def engine_config(settings: Settings) -> EngineConfig:
    webhook = f"{settings.public_url}/fal/webhook" if settings.public_url else None
    return EngineConfig(
        default_limits=BucketLimits(settings.quota_capacity, settings.quota_refill_per_hour),
        max_concurrency=settings.max_concurrency,
        max_waiting=settings.max_waiting,
        max_in_flight_per_user=settings.max_jobs_in_flight_per_user,
        progress_interval=settings.progress_interval,
        credit_usd=settings.credit_usd,
        confirm_above_usd=settings.confirm_above_usd,
        max_output_bytes=settings.max_output_bytes,
        job_timeout=settings.job_timeout,
        webhook_url=webhook,
        webhook_wait=settings.webhook_wait,
        circuit_threshold=settings.circuit_threshold,
        circuit_cooldown=settings.circuit_cooldown,
        debug=settings.debug,
        lease_seconds=settings.lease_seconds,
    )


async def build_app(settings: Settings, *, clock: Clock | None = None) -> App:
    """Open the store, point fal-client at its hosts, read fal's prices and build the engine
    (not started)."""
    if settings.fal_key is None:
        raise ValueError("FAL_KEY is not set")
    clock = clock or SystemClock()
    stack = AsyncExitStack()
    try:
        point_fal_client_at(
            queue_url=settings.fal_queue_url,
            rest_url=settings.fal_rest_url,
            cdn_url=settings.fal_cdn_url,
        )
        store = await open_store(settings)
        stack.push_async_callback(store.close)
        if isinstance(store, PostgresStore):
            name = settings.instance or store.instance
            store.serve_as(name, lease_seconds=settings.lease_seconds)
        fal = FalClientGateway(key=settings.fal_key.get_secret_value())
        stack.push_async_callback(fal.aclose)
        fetcher = MediaFetcher(
            allowed_hosts=settings.media_host_list, max_bytes=settings.max_input_bytes
        )
        stack.push_async_callback(fetcher.aclose)
        catalog = await priced_catalog(settings)
        engine = Engine(
            store=store,
            fal=fal,
            clock=clock,
            catalog=catalog,
            config=engine_config(settings),
            # On PostgreSQL the line and the fal slots are shared by every process.
            line_store=store if isinstance(store, PostgresStore) else None,
        )
        stack.push_async_callback(engine.stop)
        admin = AdminService(engine=engine, clock=clock)
        painter = Painter(engine=engine, fal=fal, clock=clock, public_url=settings.public_url)
        webhook = None
        if settings.public_url:
            webhook = FalWebhookReceiver.for_jwks(
                settings.fal_jwks_url, sink=engine, claims=store, user_id=settings.fal_user_id
            )
            stack.push_async_callback(webhook.aclose)
    except BaseException:
        await stack.aclose()
        raise
    return App(
        settings, clock, store, fal, engine, admin, fetcher, painter, webhook=webhook, _stack=stack
    )
