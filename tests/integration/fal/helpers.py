"""Small helpers for the fal tests: follow a request to the end, read MP4 boxes, make PNGs."""

from __future__ import annotations

import asyncio
import io
import struct
from contextlib import aclosing

from PIL import Image

from adapters.fal.gateway import FalClientGateway
from adapters.fal.simulator import FalSimulator
from core.ports import FalStatus

STATE_ORDER = ("queued", "in_progress", "completed")


async def follow(
    gateway: FalClientGateway, sim: FalSimulator, endpoint: str, request_id: str
) -> list[FalStatus]:
    """Watch a request to completion, admitting it when seen queued and releasing it when seen
    running (so held requests move only once the watcher has seen each stage)."""
    seen: list[FalStatus] = []
    async with asyncio.timeout(10), aclosing(gateway.watch(endpoint, request_id)) as statuses:
        async for status in statuses:
            seen.append(status)
            if status.state == "queued":
                sim.admit(request_id)
            elif status.state == "in_progress":
                sim.release(request_id)
    return seen


def png(width: int, height: int, color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def image_dims(data: bytes) -> tuple[str, tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return img.format or "", img.size


def boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """The ISO-BMFF boxes at one level: (type, payload); the sizes must tile the data exactly."""
    found = []
    pos = 0
    while pos < len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        assert size >= 8 and pos + size <= len(data), f"bad {kind!r} box size {size}"
        found.append((kind, data[pos + 8 : pos + size]))
        pos += size
    assert pos == len(data)
    return found


def child(payload: bytes, *path: bytes) -> bytes:
    """The payload of a nested box, following `path` (full boxes' headers skipped for stsd)."""
    for kind in path:
        matches = [p for k, p in boxes(payload) if k == kind]
        assert matches, f"no {kind!r} box"
        payload = matches[0]
        if kind == b"stsd":
            payload = payload[8:]  # version/flags and entry count
        elif kind == b"avc1":
            payload = payload[78:]  # the visual sample entry's fixed fields
    return payload
