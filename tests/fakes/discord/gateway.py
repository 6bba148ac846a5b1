"""The fake's gateway: one websocket session as Discord runs it.

HELLO (op 10) → the client's IDENTIFY (op 2) → READY → GUILD_CREATE for each guild → dispatches
(op 0) as the test pushes them. Heartbeats (op 1) are acknowledged (op 11). `compress=zlib-stream`
is honoured the way Discord does it: one zlib stream per connection, each message ending in a
Z_SYNC_FLUSH.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import zlib
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.discord import payloads as p

log = logging.getLogger(__name__)

HELLO, IDENTIFY, HEARTBEAT, HEARTBEAT_ACK, RESUME, INVALID_SESSION = 10, 2, 1, 11, 6, 9
DISPATCH = 0
PRIVILEGED = p.INTENT_MESSAGE_CONTENT | (1 << 1) | (1 << 8)  # message content, members, presences


class GatewaySession:
    """One client connection. `identified` is set once READY has gone out."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        *,
        compress: bool,
        check_identify: Callable[[Mapping[str, Any]], int | None],
        ready_payloads: Callable[[GatewaySession], list[tuple[str, dict[str, Any]]]],
        heartbeat_interval_ms: int,
    ) -> None:
        self.ws = ws
        self.session_id = secrets.token_hex(16)
        self.intents = 0
        self.identify: dict[str, Any] = {}
        self.identified = asyncio.Event()
        self._compressor = zlib.compressobj() if compress else None
        self._check_identify = check_identify
        self._ready_payloads = ready_payloads
        self._heartbeat_ms = heartbeat_interval_ms
        self._seq = 0
        self._send_lock = asyncio.Lock()

    @property
    def open(self) -> bool:
        return not self.ws.closed

    async def _send(self, payload: Mapping[str, Any]) -> None:
        text = json.dumps(payload)
        async with self._send_lock:
            if self.ws.closed:
                return
            if self._compressor is None:
                await self.ws.send_str(text)
            else:
                data = self._compressor.compress(text.encode())
                data += self._compressor.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(data)

    async def dispatch(self, event: str, data: Mapping[str, Any]) -> None:
        self._seq += 1
        await self._send({"op": DISPATCH, "t": event, "s": self._seq, "d": data})

    async def run(self) -> None:
        await self._send({"op": HELLO, "d": {"heartbeat_interval": self._heartbeat_ms}})
        async for msg in self.ws:
            if msg.type is not WSMsgType.TEXT:
                if msg.type is WSMsgType.BINARY:
                    await self.ws.close(code=4002, message=b"Decode error")
                break
            frame = json.loads(msg.data)
            op = frame.get("op")
            if op == HEARTBEAT:
                await self._send({"op": HEARTBEAT_ACK})
            elif op == IDENTIFY:
                await self._on_identify(frame.get("d") or {})
            elif op == RESUME:
                # Sessions are not kept across connections: ask for a fresh IDENTIFY.
                await self._send({"op": INVALID_SESSION, "d": False})
            elif op in (3, 4, 8):  # presence, voice state, request members: accepted, ignored
                continue
            else:
                await self.ws.close(code=4001, message=b"Unknown opcode")
                break

    async def _on_identify(self, data: Mapping[str, Any]) -> None:
        if self.identified.is_set():
            await self.ws.close(code=4005, message=b"Already authenticated")
            return
        refusal = self._check_identify(data)
        if refusal is not None:
            await self.ws.close(code=refusal, message=b"Identify refused")
            return
        self.identify = dict(data)
        self.intents = int(data.get("intents", 0))
        for event, payload in self._ready_payloads(self):
            await self.dispatch(event, payload)
        self.identified.set()

    async def close(self) -> None:
        if not self.ws.closed:
            await self.ws.close(code=1001, message=b"Going away")
