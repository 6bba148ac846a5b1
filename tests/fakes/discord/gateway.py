"""The fake's gateway: sessions and the websocket connections that carry them, as Discord runs
them.

A connection gets HELLO (op 10); the client's IDENTIFY (op 2) starts a session (READY, then
GUILD_CREATE for each guild); dispatches (op 0) follow as the test pushes them. Heartbeats (op 1)
are acknowledged (op 11). `compress=zlib-stream` is honoured the way Discord does it: one zlib
stream per connection, each message ending in a Z_SYNC_FLUSH.

Sharding is Discord's: IDENTIFY may carry `shard: [id, count]` (id < count, else close 4010
Invalid shard); each shard is its own session, on its own connection. A session receives the
events of the guilds with `(guild_id >> 22) % count == id`, and DMs only on shard 0; a session
without `shard` is shard [0, 1] and receives everything.

A session outlives its connection, as Discord's does: it keeps every dispatch with its sequence
number, and events sent while no connection carries it wait in it. A new connection's RESUME
(op 6) with the session's id and the bot token replays the dispatches after the client's `seq`,
then RESUMED. A session the client closed with 1000 or 1001 is over (Discord invalidates it),
and an unknown one is answered with INVALID_SESSION (op 9, d=false): identify anew.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import zlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.discord import payloads as p

log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, INVALID_SESSION = 0, 1, 2, 6, 7, 9
HELLO, HEARTBEAT_ACK = 10, 11
PRIVILEGED = p.INTENT_MESSAGE_CONTENT | (1 << 1) | (1 << 8)  # message content, members, presences
CLOSES_SESSION = (1000, 1001)  # a client closing with these ends its session
INVALID_SHARD = 4010


def shard_of(guild_id: str | int | None, count: int) -> int:
    """The shard Discord sends a guild's events to; DMs (no guild) go to shard 0."""
    return 0 if guild_id is None else (int(guild_id) >> 22) % count


def shard_problem(identify: Mapping[str, Any]) -> str | None:
    """Why IDENTIFY's `shard` is invalid (Discord closes with 4010), or None."""
    shard = identify.get("shard")
    if shard is None:
        return None
    if not (isinstance(shard, list) and len(shard) == 2 and all(isinstance(x, int) for x in shard)):
        return "shard must be [shard_id, num_shards]"
    shard_id, count = shard
    return None if count >= 1 and 0 <= shard_id < count else "shard_id must be below num_shards"


class GatewaySession:
    """One session: its id, sequence, every dispatch sent in it, and the connection carrying
    it now (None while the client is away)."""

    def __init__(self, identify: Mapping[str, Any]) -> None:
        self.session_id = secrets.token_hex(16)
        self.identify = dict(identify)
        self.intents = int(identify.get("intents", 0))
        self.seq = 0
        self.sent: list[dict[str, Any]] = []
        self.connection: GatewayConnection | None = None
        self.owner: object = None  # who identified it (its first connection's owner)
        self.ended = False
        shard = identify.get("shard") or [0, 1]
        self.shard: tuple[int, int] = (int(shard[0]), int(shard[1]))  # (id, count)

    def receives(self, guild_id: str | int | None) -> bool:
        """Whether Discord sends this guild's events (None: a DM's) to this session."""
        shard_id, count = self.shard
        return shard_of(guild_id, count) == shard_id

    @property
    def open(self) -> bool:
        return self.connection is not None and self.connection.open

    async def dispatch(self, event: str, data: Mapping[str, Any]) -> None:
        """Send an event now, or keep it for the client's RESUME when it is away."""
        self.seq += 1
        frame = {"op": DISPATCH, "t": event, "s": self.seq, "d": data}
        self.sent.append(frame)
        if self.connection is not None:
            await self.connection.send(frame)

    async def resume_on(self, connection: GatewayConnection, after: int) -> list[dict[str, Any]]:
        """Replay the dispatches after `after` on `connection`, carry on there, send RESUMED;
        the frames replayed."""
        replayed = []
        index = next((i for i, f in enumerate(self.sent) if f["s"] > after), len(self.sent))
        while index < len(self.sent):  # events dispatched meanwhile are replayed too
            frame = self.sent[index]
            replayed.append(frame)
            await connection.send(frame)
            index += 1
        # No await between the last check and this: nothing can slip past the replay.
        self.connection = connection
        connection.session = self
        await self.dispatch("RESUMED", {})
        return replayed

    def detach(self, connection: GatewayConnection) -> None:
        if self.connection is connection:
            self.connection = None


IdentifyHook = Callable[["GatewayConnection", Mapping[str, Any]], Awaitable[None]]
ResumeHook = Callable[["GatewayConnection", Mapping[str, Any]], Awaitable[None]]


class GatewayConnection:
    """One websocket. `on_identify` and `on_resume` (the fake's) start or resume its session."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        request: web.Request,
        *,
        compress: bool,
        on_identify: IdentifyHook,
        on_resume: ResumeHook,
        heartbeat_interval_ms: int,
    ) -> None:
        self.ws = ws
        self._transport = request.transport
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.peer_port: int | None = int(peer[1]) if peer else None  # the client's TCP port
        self.owner: object = None  # who holds the client's end (FakeDiscord.peer_owner)
        self.session: GatewaySession | None = None
        self._compressor = zlib.compressobj() if compress else None
        self._on_identify = on_identify
        self._on_resume = on_resume
        self._heartbeat_ms = heartbeat_interval_ms
        self._send_lock = asyncio.Lock()
        self._dropped = False  # by the test: the session stays resumable whatever the close
        self.ended = asyncio.Event()

    @property
    def open(self) -> bool:
        return not self.ws.closed and not self.ended.is_set()

    async def send(self, payload: Mapping[str, Any]) -> None:
        text = json.dumps(payload)
        async with self._send_lock:
            if not self.open:
                return
            try:
                if self._compressor is None:
                    await self.ws.send_str(text)
                else:
                    data = self._compressor.compress(text.encode())
                    data += self._compressor.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(data)
            except ConnectionError:
                log.debug("the gateway connection went away while sending")

    async def run(self) -> None:
        try:
            await self._serve()
        finally:
            if self.session is not None:
                self.session.detach(self)
                if self.ws.close_code in CLOSES_SESSION and not self._dropped:
                    self.session.ended = True
            self.ended.set()

    async def _serve(self) -> None:
        await self.send({"op": HELLO, "d": {"heartbeat_interval": self._heartbeat_ms}})
        async for msg in self.ws:
            if msg.type is not WSMsgType.TEXT:
                if msg.type is WSMsgType.BINARY:
                    await self.ws.close(code=4002, message=b"Decode error")
                break
            frame = json.loads(msg.data)
            op = frame.get("op")
            if op == HEARTBEAT:
                await self.send({"op": HEARTBEAT_ACK})
            elif op in (IDENTIFY, RESUME) and self.session is not None:
                await self.ws.close(code=4005, message=b"Already authenticated")
            elif op == IDENTIFY:
                await self._on_identify(self, frame.get("d") or {})
            elif op == RESUME:
                await self._on_resume(self, frame.get("d") or {})
            elif op in (3, 4, 8):  # presence, voice state, request members: accepted, ignored
                continue
            else:
                await self.ws.close(code=4001, message=b"Unknown opcode")
                break

    # what the fake does to a connection

    async def request_reconnect(self) -> None:
        """Op 7 RECONNECT: the client should resume on a new connection. Discord sends nothing
        more on this one: later events wait in the session."""
        await self.send({"op": RECONNECT, "d": None})
        self._leave()

    async def drop(self, code: int | None) -> None:
        """Close with `code` (4000: unknown error, resumable), or cut the TCP connection
        without a close frame when `code` is None."""
        self._leave()
        if code is None:
            if self._transport is not None:
                self._transport.abort()
        else:
            with contextlib.suppress(ConnectionError):
                await self.ws.close(code=code, message=b"Dropped by the test")

    def _leave(self) -> None:
        self._dropped = True
        if self.session is not None:
            self.session.detach(self)

    async def close(self) -> None:
        if not self.ws.closed:
            with contextlib.suppress(ConnectionError):
                await self.ws.close(code=1001, message=b"Going away")
