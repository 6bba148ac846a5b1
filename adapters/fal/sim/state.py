"""One simulated fal request and the status objects it answers with."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from adapters.fal.sim.faults import Fault

State = Literal["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]


@dataclass
class SimRequest:
    """A request at the simulator, from submit to COMPLETED (inspect it in tests)."""

    id: str
    endpoint: str  # as submitted, with its sub-path: fal-ai/flux/dev
    app: str  # owner/alias: fal-ai/flux
    arguments: dict[str, Any]
    webhook_url: str | None
    seq: int  # submit order
    submitted_at: float  # loop time
    state: State = "IN_QUEUE"
    fault: Fault | None = None  # how it will end (or ended) if it fails
    waited: bool = False  # its queue_wait is over
    admitted: bool = False  # let out of a held queue
    released: bool = False  # let out of a held run
    logs: list[dict[str, Any]] = field(default_factory=list)
    output: dict[str, Any] | None = None
    started_at: float | None = None
    completed_at: float | None = None
    cancelled_while: State | None = None
    # fal's platform headers it was sent with (X-Fal-Store-IO…), names in lower case.
    fal_headers: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.state == "COMPLETED" and self.fault is not None

    def add_log(self, message: str) -> None:
        self.logs.append(
            {
                "message": message,
                "level": "INFO",
                "source": "user",
                "timestamp": datetime.now(UTC).isoformat(),
            }
        )

    def status_body(self, *, position: int, with_logs: bool, response_url: str) -> dict[str, Any]:
        """The status object fal answers (polled or streamed)."""
        body: dict[str, Any] = {
            "status": self.state,
            "request_id": self.id,
            "response_url": response_url,
        }
        if self.state == "IN_QUEUE":
            body["queue_position"] = position
            return body
        body["logs"] = list(self.logs) if with_logs else None
        if self.state == "COMPLETED":
            ran = (self.completed_at or 0.0) - (self.started_at or self.completed_at or 0.0)
            body["metrics"] = {"inference_time": round(ran, 3)} if self.started_at else {}
            if self.fault is not None and self.fault.in_status:
                body["error"] = self.fault.status_error()
                body["error_type"] = self.fault.error_type
        return body


@dataclass
class StoredFile:
    """A file on the simulated CDN: bytes, or a renderer called on first read."""

    content_type: str
    data: bytes | None = None
    render: Callable[[], bytes] | None = None

    def read_sync(self) -> bytes:
        if self.data is None:
            if self.render is None:
                raise ValueError("empty file")
            self.data = self.render()
        return self.data

    async def read(self) -> bytes:
        if self.data is None:
            self.data = await asyncio.to_thread(self.read_sync)
        return self.data
