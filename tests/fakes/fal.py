"""`FakeFal`: the `FalGateway` port by hand, for core's unit tests. Requests finish when told;
with `hold_queue` they wait in fal's queue until `start`ed, as fal's own queue does."""

from __future__ import annotations

import asyncio
import io
import itertools
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from adapters.fal.outputs import parse_output
from core.errors import BotError, ErrorCode
from core.jobs import JobKind, Output
from core.ports import FalStatus


def png_bytes(width: int = 8, height: int = 8, color: str = "blue") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


@dataclass
class FakeRequest:
    endpoint: str
    arguments: Mapping[str, Any]
    release: asyncio.Event = field(default_factory=asyncio.Event)
    started: asyncio.Event = field(default_factory=asyncio.Event)  # IN_PROGRESS at fal
    error: BotError | None = None
    cancelled: bool = False
    completed: bool = False


class FakeFal:
    """Every request sits IN_PROGRESS until `finish` (or `auto_finish`), then completes; with
    `hold_queue`, IN_QUEUE first until `start`. A cancelled request completes at once."""

    def __init__(self, *, auto_finish: bool = True) -> None:
        self.auto_finish = auto_finish
        self.hold_queue = False
        self.status_calls = 0
        self.cancels: list[str] = []  # request ids, in the order their cancel was asked
        self.cancel_asked = asyncio.Event()
        self.requests: dict[str, FakeRequest] = {}
        self.submits: list[tuple[str, Mapping[str, Any]]] = []
        self.webhook_urls: list[str | None] = []
        self.private: list[bool] = []  # each submit's private flag
        self.uploads: list[bytes] = []
        self.submit_error: BotError | None = None
        self.submit_gate: asyncio.Event | None = None  # when set up, submits wait for it
        self.submit_calls = 0
        self.result_error: BotError | None = None
        self.result_gate: asyncio.Event | None = None  # when set up, results wait for it
        self.nsfw_flags: list[bool] | None = None  # has_nsfw_concepts of every image result
        self.image_size = (1024, 1024)  # width and height of every image result
        self.at_fal = 0
        self.peak_at_fal = 0
        self._ids = itertools.count(1)
        self._submitted = asyncio.Condition()

    async def submit(
        self,
        endpoint: str,
        arguments: Mapping[str, Any],
        *,
        webhook_url: str | None = None,
        private: bool = False,
    ) -> str:
        self.submit_calls += 1
        if self.submit_gate is not None:
            await self.submit_gate.wait()
        if self.submit_error is not None:
            raise self.submit_error
        request_id = f"req-{next(self._ids)}"
        self.webhook_urls.append(webhook_url)
        self.private.append(private)
        self.requests[request_id] = FakeRequest(endpoint, dict(arguments))
        if not self.hold_queue:
            self.requests[request_id].started.set()
        self.at_fal += 1
        self.peak_at_fal = max(self.peak_at_fal, self.at_fal)
        async with self._submitted:
            self.submits.append((endpoint, dict(arguments)))
            self._submitted.notify_all()
        return request_id

    async def wait_for_submits(self, count: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout), self._submitted:
            await self._submitted.wait_for(lambda: len(self.submits) >= count)

    def finish(self, request_id: str | None = None, *, error: BotError | None = None) -> None:
        """Let one request (by default the oldest unfinished) complete, optionally failing."""
        pending = [r for r, req in self.requests.items() if not req.release.is_set()]
        rid = request_id or pending[0]
        self.requests[rid].error = error
        self.requests[rid].release.set()

    def start(self, request_id: str | None = None) -> None:
        """Let one held request (by default the oldest waiting) leave fal's queue and run."""
        waiting = [r for r, req in self.requests.items() if not req.started.is_set()]
        self.requests[request_id or waiting[0]].started.set()

    async def watch(self, endpoint: str, request_id: str) -> AsyncIterator[FalStatus]:
        req = self.requests[request_id]
        yield FalStatus("queued", queue_position=0)
        if not req.started.is_set():
            await _first(req.started, req.release)
        if req.started.is_set():
            yield FalStatus("in_progress", logs=("step 1 of 2",))
            if not self.auto_finish:
                await req.release.wait()
        if self.at_fal > 0:
            self.at_fal -= 1
        req.completed = True
        yield FalStatus("completed", inference_s=1.0 if req.started.is_set() else None)

    async def status(self, endpoint: str, request_id: str) -> FalStatus:
        self.status_calls += 1
        req = self.requests[request_id]
        ran = req.started.is_set()
        if req.release.is_set() or (ran and self.auto_finish):
            return FalStatus("completed", inference_s=1.0 if ran else None)
        return FalStatus("in_progress" if ran else "queued", queue_position=None if ran else 0)

    async def result(self, endpoint: str, request_id: str) -> dict[str, Any]:
        if self.result_gate is not None:
            await self.result_gate.wait()
        req = self.requests[request_id]
        error = req.error or self.result_error
        if error is not None:
            raise error
        if req.cancelled:
            raise BotError(ErrorCode.CANCELLED, "cancelled at fal", request_id=request_id)
        if "video" in endpoint or "veo" in endpoint:
            return {
                "video": {"url": f"https://fal.media/{request_id}.mp4", "content_type": "video/mp4"}
            }
        if endpoint.startswith("openrouter/"):  # a vision LLM's text answer
            lines = [f"{i}. suggested prompt number {i}" for i in range(1, 5)]
            return {"output": "\n".join(lines), "usage": {"prompt_tokens": 1300}}
        if "esrgan" in endpoint:
            return {
                "image": {
                    "url": f"https://fal.media/{request_id}.png",
                    "width": 16,
                    "height": 16,
                    "content_type": "image/png",
                }
            }
        count = int(req.arguments.get("num_images", 1))
        return {
            "images": [
                {
                    "url": f"https://fal.media/{request_id}-{i}.png",
                    "width": self.image_size[0],
                    "height": self.image_size[1],
                    "content_type": "image/png",
                }
                for i in range(count)
            ],
            "seed": 42,
            "has_nsfw_concepts": self.nsfw_flags or [False] * count,
        }

    def read_output(
        self, kind: JobKind, data: Mapping[str, Any]
    ) -> tuple[tuple[Output, ...], int | None]:
        return parse_output(kind, data)

    async def cancel(self, endpoint: str, request_id: str) -> bool:
        self.cancels.append(request_id)
        self.cancel_asked.set()
        req = self.requests[request_id]
        if req.release.is_set() or req.completed:
            return False  # ALREADY_COMPLETED
        req.cancelled = True
        req.release.set()
        return True

    async def upload(self, data: bytes, content_type: str) -> str:
        self.uploads.append(data)
        return f"https://fal.media/upload-{len(self.uploads)}"

    async def download(self, url: str, *, max_bytes: int) -> bytes:
        data = png_bytes()
        if len(data) > max_bytes:
            raise BotError(ErrorCode.INVALID_INPUT, "too big")
        return data


async def _first(*events: asyncio.Event) -> None:
    """Wait until one of `events` is set."""
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
