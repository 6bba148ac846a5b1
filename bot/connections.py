"""The connection table of the public HTTP server: a cap on connections in all and per client
address, so idle or slow sockets can never use up the process's open files.

aiohttp closes a connection that has not sent a whole request head within its keep-alive
timeout (set short by `bot.http`), but it accepts every connection it is offered. `ConnectionGuard`
wraps each of aiohttp's protocols: when a new connection finds its address at its cap, or the
table full, the oldest connection that is not in the middle of a request makes room; when every
connection is busy, the new one is closed at once. A full table is logged at most once per
`LOG_EVERY` seconds, with how many connections were turned away since.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

LOG_EVERY = 10.0  # seconds between two "table full" log lines
FILES_RESERVED = 200  # open files kept for the database, fal, Discord, Slack and logs


def connection_cap(wanted: int) -> int:
    """`wanted`, lowered to stay under this process's open-file limit (RLIMIT_NOFILE)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    room = max(soft - FILES_RESERVED, 16)
    if wanted > room:
        log.warning(
            "HTTP connections capped at %d (not %d): the open-file limit is %d; "
            "raise it (LimitNOFILE, ulimit -n) to allow more",
            room,
            wanted,
            soft,
        )
    return min(wanted, room)


class ConnectionGuard:
    """Counts the open connections; `wrap` is the protocol factory given to the event loop."""

    def __init__(
        self,
        *,
        max_connections: int,
        max_per_address: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_connections = max_connections
        self.max_per_address = max_per_address
        self._clock = clock
        self._open: OrderedDict[_Guarded, None] = OrderedDict()  # oldest activity first
        self._by_address: dict[str, OrderedDict[_Guarded, None]] = {}  # oldest activity first
        self._by_protocol: dict[object, _Guarded] = {}  # aiohttp's protocol → its connection
        self._refused = 0
        self._evicted = 0
        self._logged_at: float | None = None

    @property
    def open(self) -> int:
        return len(self._open)

    def factory(self, inner: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: _Guarded(self, inner())

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Marks a connection busy while one of its requests is handled (never evicted then)."""
        guarded = self._by_protocol.get(request.protocol)
        if guarded is None:
            return await handler(request)
        guarded.busy += 1
        self._touch(guarded)
        try:
            return await handler(request)
        finally:
            guarded.busy -= 1
            self._touch(guarded)

    # ---- called by _Guarded

    def admit(self, guarded: _Guarded) -> bool:
        address = guarded.address
        mine = self._by_address.setdefault(address, OrderedDict())
        if len(mine) >= self.max_per_address and not self._evict(mine):
            return self._refuse(f"address at its cap of {self.max_per_address}")
        if len(self._open) >= self.max_connections and not self._evict(self._open):
            return self._refuse(f"table full ({self.max_connections})")
        self._open[guarded] = None
        mine[guarded] = None
        self._by_protocol[guarded.inner] = guarded
        return True

    def release(self, guarded: _Guarded) -> None:
        if guarded not in self._open:
            return
        del self._open[guarded]
        self._by_protocol.pop(guarded.inner, None)
        mine = self._by_address[guarded.address]
        del mine[guarded]
        if not mine:
            del self._by_address[guarded.address]

    def _touch(self, guarded: _Guarded) -> None:
        if guarded in self._open:
            self._open.move_to_end(guarded)
            self._by_address[guarded.address].move_to_end(guarded)

    def _evict(self, among: OrderedDict[_Guarded, None]) -> bool:
        """Close the connection idle the longest among these (busy ones are skipped; they are
        few, since a request in progress is soon answered or cut off)."""
        for guarded in among:
            if guarded.busy == 0:
                self.release(guarded)
                guarded.abort()
                self._evicted += 1
                self._log_full()
                return True
        return False

    def _refuse(self, why: str) -> bool:
        self._refused += 1
        self._log_full(why)
        return False

    def _log_full(self, why: str = "making room") -> None:
        now = self._clock()
        if self._logged_at is not None and now - self._logged_at < LOG_EVERY:
            return
        self._logged_at = now
        log.warning(
            "HTTP connections at their limit (%s): %d idle closed and %d refused so far; %d open",
            why,
            self._evicted,
            self._refused,
            len(self._open),
        )


class _Guarded(asyncio.Protocol):
    """One connection: admitted by the guard, then everything passed to aiohttp's protocol."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self._guard = guard
        self.inner = inner
        self._transport: asyncio.Transport | None = None
        self._admitted = False
        self.address = "?"
        self.busy = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer: Any = transport.get_extra_info("peername")
        self.address = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        if not self._guard.admit(self):
            transport.abort()  # closed at once: no file held for it
            return
        self._admitted = True
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._admitted:
            return
        self._admitted = False
        self._guard.release(self)
        self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._admitted:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self._admitted else None

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()
