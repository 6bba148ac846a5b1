"""fal's request statuses as `FalStatus`, from JSON or from fal-client, and the SSE framing."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

from fal_client import Completed, InProgress, Queued, Status

from core.ports import FalStatus


def status_from_json(data: Mapping[str, Any]) -> FalStatus:
    """One status object as fal sends it (a poll's body or one event of the stream)."""
    state = data.get("status")
    if state == "IN_QUEUE":
        position = data.get("queue_position")
        return FalStatus("queued", queue_position=int(position) if position is not None else None)
    if state == "IN_PROGRESS":
        return FalStatus("in_progress", logs=log_messages(data.get("logs")))
    if state == "COMPLETED":
        return _completed(
            data.get("logs"), data.get("metrics"), data.get("error"), data.get("error_type")
        )
    raise ValueError(f"unknown fal status {state!r}")


def status_from_client(status: Status) -> FalStatus:
    """fal-client's `Queued` / `InProgress` / `Completed`."""
    if isinstance(status, Queued):
        return FalStatus("queued", queue_position=status.position)
    if isinstance(status, InProgress):
        return FalStatus("in_progress", logs=log_messages(status.logs))
    if isinstance(status, Completed):
        return _completed(status.logs, status.metrics, status.error, status.error_type)
    raise ValueError(f"unknown fal status {status!r}")


def log_messages(logs: Any) -> tuple[str, ...]:
    """The `message` of each log entry (fal sends `null` when logs were not asked for)."""
    if not isinstance(logs, list):
        return ()
    return tuple(str(entry.get("message", "")) for entry in logs if isinstance(entry, Mapping))


def _completed(logs: Any, metrics: Any, error: Any, error_type: Any) -> FalStatus:
    inference = metrics.get("inference_time") if isinstance(metrics, Mapping) else None
    return FalStatus(
        "completed",
        logs=log_messages(logs),
        error=str(error) if error else None,
        error_type=str(error_type) if error_type else None,
        inference_s=float(inference) if isinstance(inference, int | float) else None,
    )


async def sse_data(lines: AsyncIterator[str]) -> AsyncGenerator[str, None]:
    """The `data` of each Server-Sent Event, from the stream's lines (comments skipped)."""
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value.removeprefix(" "))
    # An event cut off before its blank line is dropped, as the SSE spec says.
