"""The one HTTP server of a falbot process (aiohttp).

It serves `/healthz` and `/metrics` itself; adapters mount their own routes on the same
application before it starts: `server.add_routes(slack.add_routes)` for `/slack/events`, and the
same for `/fal/webhook`. Routes cannot be added once the server has started.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.metrics import Metrics

log = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[None]]  # raises when the thing it checks is not usable
Connected = Callable[[], bool | None]  # True, False, or None when it cannot tell
Circuit = Callable[[], str]


class Health:
    """What `/healthz` reports: the database, each chat adapter, and the fal circuit.

    Unhealthy (503) when the database does not answer or an adapter is disconnected; an open
    circuit is reported (fal is failing, so jobs are refused for a while) but the process itself
    is fine, so a restart would not help and the answer stays 200.
    """

    def __init__(
        self, *, database: Probe, circuit: Circuit | None = None, timeout: float = 3.0
    ) -> None:
        self._database = database
        self._circuit = circuit or (lambda: "closed")
        self._adapters: dict[str, Connected] = {}
        self._timeout = timeout

    def add_adapter(self, name: str, connected: Connected) -> None:
        self._adapters[name] = connected

    async def check(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, the JSON body)."""
        database = await self._check_database()
        adapters = {name: _connection(connected) for name, connected in self._adapters.items()}
        healthy = database == "ok" and "disconnected" not in adapters.values()
        body: dict[str, Any] = {
            "status": "ok" if healthy else "unhealthy",
            "database": database,
            "adapters": adapters,
            "circuit": self._circuit(),
        }
        return healthy, body

    async def _check_database(self) -> str:
        try:
            async with asyncio.timeout(self._timeout):
                await self._database()
        except TimeoutError:
            return "timeout"
        except Exception as exc:
            log.warning("health check: the database is unreachable (%s)", type(exc).__name__)
            return "unreachable"
        return "ok"


def _connection(connected: Connected) -> str:
    try:
        state = connected()
    except Exception:
        log.warning("health check: could not read an adapter's connection", exc_info=True)
        return "unknown"
    return "unknown" if state is None else "connected" if state else "disconnected"


class HttpServer:
    """Build it, mount routes (`add_routes`), `await start()`, and `await close()` at the end."""

    def __init__(
        self, *, host: str, port: int, health: Health, metrics: Metrics | None = None
    ) -> None:
        self._host = host
        self._port = port
        self._health = health
        self._metrics = metrics
        self.app = web.Application()
        self.app.router.add_get("/healthz", self._healthz)
        if metrics is not None:
            self.app.router.add_get("/metrics", self._metrics_page)
        self._runner: web.AppRunner | None = None
        self._bound: int | None = None

    def add_routes(self, mount: Callable[[web.Application], None]) -> None:
        """Let an adapter mount its routes, e.g. `server.add_routes(slack.add_routes)`."""
        if self._runner is not None:
            raise RuntimeError("routes must be added before the HTTP server starts")
        mount(self.app)

    @property
    def port(self) -> int:
        """The port it listens on (the one the OS chose when FALBOT_HTTP_PORT is 0)."""
        if self._bound is None:
            raise RuntimeError("the HTTP server has not started")
        return self._bound

    async def start(self) -> None:
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
            sock = socket.create_server((self._host, self._port), family=family)
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._bound = int(sock.getsockname()[1])
        try:
            await web.SockSite(runner, sock).start()
        except BaseException:
            sock.close()
            raise
        log.info("HTTP server listening on %s:%d", self._host, self._bound)

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        healthy, body = await self._health.check()
        return web.json_response(body, status=200 if healthy else 503)

    async def _metrics_page(self, request: web.Request) -> web.Response:
        assert self._metrics is not None
        body, content_type = self._metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})
