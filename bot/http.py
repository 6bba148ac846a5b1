"""The HTTP servers of a falbot process (aiohttp).

`HttpServer` is the public one: it serves `/healthz` (nothing private in it) and adapters mount
their own routes on it before it starts: `server.add_routes(slack.add_routes)` for
`/slack/events`, and the same for `/fal/webhook`. Routes cannot be added once it has started.
It closes connections that send no whole request head within `idle_timeout` (and idle
keep-alive ones as soon), gives each request `request_timeout` to send its body and be answered
(a body sent a byte at a time is cut off with 408), and caps its connections in all and per
client address (`bot.connections`), so idle or slow sockets cannot use up the process's open
files.

`MetricsServer` serves `/metrics` on its own port, bound to loopback by default: the spend per
workspace it shows is for the operator's Prometheus, not for whoever can reach Slack's endpoint.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.connections import ACCEPT_BURST, LISTEN_BACKLOG, ConnectionGuard, connection_cap
from bot.metrics import Metrics

log = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[None]]  # raises when the thing it checks is not usable
Connected = Callable[[], bool | None]  # True, False, or None when it cannot tell
Circuit = Callable[[], str]
ProcessFacts = Callable[[], dict[str, str]]  # which process this is, and its hold on the line


class Health:
    """What `/healthz` reports: the database, each chat adapter, and the fal circuit.

    Unhealthy (503) when the database does not answer or an adapter is disconnected; an open
    circuit is reported (fal is failing, so jobs are refused for a while) but the process itself
    is fine, so a restart would not help and the answer stays 200.
    """

    def __init__(
        self,
        *,
        database: Probe,
        circuit: Circuit | None = None,
        process: ProcessFacts | None = None,
        timeout: float = 3.0,
    ) -> None:
        self._database = database
        self._circuit = circuit or (lambda: "closed")
        self._process = process
        self._adapters: dict[str, Connected] = {}
        self._timeout = timeout

    def add_adapter(self, name: str, connected: Connected) -> None:
        self._adapters[name] = connected

    async def check(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, the JSON body)."""
        database = await self._check_database()
        adapters = {name: _connection(connected) for name, connected in self._adapters.items()}
        healthy = database == "ok" and "disconnected" not in adapters.values()
        process = self._process() if self._process is not None else {}
        if process.get("leases") == "lapsed":  # other processes may be taking its jobs
            healthy = False
        body: dict[str, Any] = {
            "status": "ok" if healthy else "unhealthy",
            **process,
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


def _shown(path: str) -> str:
    """A path as logs may show it: a region painter's link carries its private token."""
    return "/paint/…" if path.startswith("/paint/") else path


def _connection(connected: Connected) -> str:
    try:
        state = connected()
    except Exception:
        log.warning("health check: could not read an adapter's connection", exc_info=True)
        return "unknown"
    return "unknown" if state is None else "connected" if state else "disconnected"


@dataclass(frozen=True)
class HttpLimits:
    """What one client may hold of the public server (the FALBOT_HTTP_* settings)."""

    idle_timeout: float = 15.0  # seconds to send a whole request head; idle keep-alive
    request_timeout: float = 30.0  # seconds from the head to the answer (Slack waits 3 s)
    max_connections: int = 1000  # lowered under the open-file limit at start
    max_per_address: int = 64
    lingering: float = 2.0  # seconds an unread body is drained after the answer, then closed


class HttpServer:
    """Build it, mount routes (`add_routes`), `await start()`, and `await close()` at the end."""

    def __init__(
        self, *, host: str, port: int, health: Health, limits: HttpLimits | None = None
    ) -> None:
        self._host = host
        self._port = port
        self._health = health
        self._limits = limits or HttpLimits()
        self.guard = ConnectionGuard(
            max_connections=self._limits.max_connections,
            max_per_address=self._limits.max_per_address,
            idle_timeout=self._limits.idle_timeout,
        )
        self.app = web.Application(middlewares=[self.guard.middleware, self._deadline])
        self.app.router.add_get("/healthz", self._healthz)
        self._site: _Site | None = None

    def add_routes(self, mount: Callable[[web.Application], None]) -> None:
        """Let an adapter mount its routes, e.g. `server.add_routes(slack.add_routes)`."""
        if self._site is not None:
            raise RuntimeError("routes must be added before the HTTP server starts")
        mount(self.app)

    @property
    def port(self) -> int:
        """The port it listens on (the one the OS chose when FALBOT_HTTP_PORT is 0)."""
        if self._site is None:
            raise RuntimeError("the HTTP server has not started")
        return self._site.port

    async def start(self) -> None:
        self.guard.max_connections = connection_cap(self._limits.max_connections)
        self._site = await _Site.start(
            self.app,
            host=self._host,
            port=self._port,
            guard=self.guard,
            keepalive_timeout=self._limits.idle_timeout,
            lingering_time=self._limits.lingering,
        )
        log.info("HTTP server listening on %s:%d", self._host, self._site.port)

    async def close(self) -> None:
        site, self._site = self._site, None
        if site is not None:
            await site.close()

    @web.middleware
    async def _deadline(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Every request is answered within `request_timeout`, however slowly it sends."""
        try:
            async with asyncio.timeout(self._limits.request_timeout):
                return await handler(request)
        except TimeoutError:
            log.warning("an HTTP request to %s took too long; closed", _shown(request.path))
            response = web.json_response({"ok": False, "error": "request too slow"}, status=408)
            response.force_close()
            return response

    async def _healthz(self, request: web.Request) -> web.Response:
        healthy, body = await self._health.check()
        return web.json_response(body, status=200 if healthy else 503)


class MetricsServer:
    """`/metrics` alone, on its own address (FALBOT_METRICS_HOST, loopback by default)."""

    def __init__(self, *, host: str, port: int, metrics: Metrics) -> None:
        self._host = host
        self._port = port
        self._metrics = metrics
        self.app = web.Application()
        self.app.router.add_get("/metrics", self._page)
        self._site: _Site | None = None

    @property
    def port(self) -> int:
        if self._site is None:
            raise RuntimeError("the metrics server has not started")
        return self._site.port

    async def start(self) -> None:
        self._site = await _Site.start(
            self.app, host=self._host, port=self._port, keepalive_timeout=60.0
        )
        log.info("metrics served on %s:%d/metrics", self._host, self._site.port)

    async def close(self) -> None:
        site, self._site = self._site, None
        if site is not None:
            await site.close()

    async def _page(self, request: web.Request) -> web.Response:
        body, content_type = self._metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})


class _GuardedSite(web.SockSite):
    """aiohttp's SockSite, each connection passed through the guard first."""

    def __init__(self, runner: web.AppRunner, sock: socket.socket, guard: ConnectionGuard) -> None:
        super().__init__(runner, sock, backlog=ACCEPT_BURST)
        self._guard = guard

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        # asyncio accepts `backlog` connections per turn (files held until the guard sees them);
        # the kernel's queue behind it is made longer again once it listens.
        self._server = await loop.create_server(
            self._guard.factory(server), sock=self._sock, backlog=self._backlog
        )
        self._sock.listen(LISTEN_BACKLOG)


@dataclass
class _Site:
    runner: web.AppRunner
    port: int

    @classmethod
    async def start(
        cls,
        app: web.Application,
        *,
        host: str,
        port: int,
        guard: ConnectionGuard | None = None,
        **handler_args: Any,
    ) -> _Site:
        runner = web.AppRunner(app, access_log=None, handle_signals=False, **handler_args)
        await runner.setup()
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.create_server((host, port), family=family)
        except BaseException:
            await runner.cleanup()
            raise
        site = web.SockSite(runner, sock) if guard is None else _GuardedSite(runner, sock, guard)
        try:
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        return cls(runner, int(sock.getsockname()[1]))

    async def close(self) -> None:
        await self.runner.cleanup()
