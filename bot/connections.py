"""The connection table of the public HTTP server: a cap on connections in all and per client
address, so idle or slow sockets can never use up the process's open files.

aiohttp accepts every connection it is offered and builds its protocol (a parser, timers, a
task) for each. `ConnectionGuard` stands before it:

- a connection from an address at its cap is closed at once;
- a connection that has sent nothing yet is only a transport in the table ("silent"): aiohttp's
  protocol is built on its first byte, and a silent one is closed after `idle_timeout`;
- when the table is full, the newcomer takes the place of the oldest silent connection, or else
  of the connection idle the longest of an address holding clearly more than the newcomer's
  (a request in progress is never cut); when there is none, the newcomer is closed at once.

So a flood of silent sockets costs little and only churns itself, while a client that sends a
request gets in. aiohttp closes connections that started a request head but did not finish it
within its keep-alive timeout (set to `idle_timeout` by `bot.http`). A full table is logged at
most once per `LOG_EVERY` seconds, with how many connections were turned away so far.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiohttp import web

log = logging.getLogger(__name__)

LOG_EVERY = 10.0  # seconds between two "table full" log lines
FILES_RESERVED = 200  # open files kept for the database, fal, Discord, Slack and logs
# asyncio accepts up to its `backlog` connections per loop turn, and a connection is admitted
# (or closed) a few turns later, its file closed a turn after that: files for a few bursts in
# flight are kept free too. The kernel's queue of connections waiting to be accepted is longer
# (LISTEN_BACKLOG), so a flood does not drop others' SYNs.
ACCEPT_BURST = 64
IN_FLIGHT = 4 * ACCEPT_BURST
LISTEN_BACKLOG = 2048
_SCAN = 64  # connections looked at, oldest first, for one to make room


def connection_cap(wanted: int) -> int:
    """`wanted`, lowered to stay under this process's open-file limit (RLIMIT_NOFILE)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    room = max(soft - FILES_RESERVED - IN_FLIGHT, 16)
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
    """Counts the open connections; `factory` wraps the protocol factory given to the loop."""

    def __init__(
        self,
        *,
        max_connections: int,
        max_per_address: int,
        idle_timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_connections = max_connections
        self.max_per_address = max_per_address
        self.idle_timeout = idle_timeout
        self._clock = clock
        self._open: OrderedDict[_Guarded, None] = OrderedDict()  # oldest activity first
        self._silent: OrderedDict[_Guarded, None] = OrderedDict()  # nothing sent yet
        self._by_address: dict[str, OrderedDict[_Guarded, None]] = {}
        self._by_protocol: dict[object, _Guarded] = {}  # aiohttp's protocol → its connection
        self._refused = 0
        self._evicted = 0
        self._logged_at: float | None = None

    @property
    def open(self) -> int:
        return len(self._open)

    def factory(self, inner: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: _Guarded(self, inner)

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Marks a connection busy while one of its requests is handled (never closed then)."""
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
        mine = self._by_address.get(address)
        held = len(mine) if mine is not None else 0
        if held >= self.max_per_address:
            return self._refuse(f"an address at its cap of {self.max_per_address}")
        if len(self._open) >= self.max_connections and not self._make_room(held):
            return self._refuse(f"table full at {self.max_connections}")
        self._open[guarded] = None
        self._silent[guarded] = None
        self._by_address.setdefault(address, OrderedDict())[guarded] = None
        return True

    def spoke(self, guarded: _Guarded, protocol: object) -> None:
        """Its first bytes came: aiohttp's protocol now serves it."""
        self._silent.pop(guarded, None)
        self._by_protocol[protocol] = guarded
        self._touch(guarded)

    def release(self, guarded: _Guarded) -> None:
        if guarded not in self._open:
            return
        del self._open[guarded]
        self._silent.pop(guarded, None)
        self._by_protocol.pop(guarded.inner, None)
        mine = self._by_address[guarded.address]
        del mine[guarded]
        if not mine:
            del self._by_address[guarded.address]

    def _touch(self, guarded: _Guarded) -> None:
        if guarded in self._open:
            self._open.move_to_end(guarded)
            self._by_address[guarded.address].move_to_end(guarded)

    def _make_room(self, held: int) -> bool:
        """Close the oldest silent connection, or else the one idle the longest of an address
        holding at least two more than the newcomer's. Busy ones are never closed."""
        victim = next(iter(self._silent), None)
        if victim is None:
            for seen, guarded in enumerate(self._open):
                if seen >= _SCAN:
                    break
                if guarded.busy == 0 and len(self._by_address[guarded.address]) > held + 1:
                    victim = guarded
                    break
        if victim is None:
            return False
        self.release(victim)
        victim.abort()
        self._evicted += 1
        self._log_full("making room")
        return True

    def _refuse(self, why: str) -> bool:
        self._refused += 1
        self._log_full(why)
        return False

    def _log_full(self, why: str) -> None:
        now = self._clock()
        if self._logged_at is not None and now - self._logged_at < LOG_EVERY:
            return
        self._logged_at = now
        log.warning(
            "HTTP connections at their limit (%s): %d closed to make room and %d refused "
            "so far; %d open",
            why,
            self._evicted,
            self._refused,
            len(self._open),
        )


class _Guarded(asyncio.Protocol):
    """One connection: admitted by the guard; on its first bytes, handed to aiohttp."""

    def __init__(self, guard: ConnectionGuard, make_inner: Callable[[], asyncio.Protocol]) -> None:
        self._guard = guard
        self._make_inner = make_inner
        self.inner: asyncio.Protocol | None = None  # built on the first bytes
        self._transport: asyncio.Transport | None = None
        self._admitted = False
        self._silence: asyncio.TimerHandle | None = None
        self.address = "?"
        self.busy = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream server's transport: asyncio's is an `asyncio.Transport`, uvloop's (falbot
        # run's loop) is not a subclass of it but has the same methods.
        self._transport = cast(asyncio.Transport, transport)
        peer: Any = transport.get_extra_info("peername")
        self.address = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        if not self._guard.admit(self):
            self._transport.abort()  # closed at once: no file held for it
            return
        self._admitted = True
        loop = asyncio.get_running_loop()
        self._silence = loop.call_later(self._guard.idle_timeout, self.abort)

    def data_received(self, data: bytes) -> None:
        if not self._admitted or self._transport is None:
            return
        if self.inner is None:
            if self._silence is not None:
                self._silence.cancel()
            self.inner = self._make_inner()
            self._guard.spoke(self, self.inner)
            self.inner.connection_made(self._transport)
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._silence is not None:
            self._silence.cancel()
        if not self._admitted:
            return
        self._admitted = False
        self._guard.release(self)
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()
