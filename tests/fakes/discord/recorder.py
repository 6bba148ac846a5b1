"""What the fake was asked, kept in order, with a way to wait on a request instead of sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class UploadedFile:
    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class Recorded:
    """One request the fake answered."""

    method: str
    path: str  # below the API base, e.g. /webhooks/1/abc/messages/@original
    route: str  # the documented route, e.g. PATCH /webhooks/{app}/{token}/messages/{message}
    query: Mapping[str, str]
    headers: Mapping[str, str]
    json: Any
    files: list[UploadedFile] = field(default_factory=list)
    at: float = 0.0  # the loop's monotonic time when it arrived
    status: int = 0
    answer: Any = None
    peer_port: int | None = None  # the client's TCP port
    owner: object = None  # who holds the client's end (FakeDiscord.peer_owner's answer)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


Predicate = Callable[[Recorded], bool]


class Recorder:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._waiters: list[tuple[Predicate, int, asyncio.Future[Recorded]]] = []

    def mark(self) -> int:
        """An index to pass as `after` so that a wait only sees later requests."""
        return len(self.requests)

    def add(self, rec: Recorded) -> None:
        self.requests.append(rec)
        index = len(self.requests) - 1
        for waiter in list(self._waiters):
            pred, after, fut = waiter
            if index >= after and not fut.done() and pred(rec):
                fut.set_result(rec)
                self._waiters.remove(waiter)

    def find(self, pred: Predicate, *, after: int = 0) -> list[Recorded]:
        return [r for r in self.requests[after:] if pred(r)]

    async def wait_for(self, pred: Predicate, *, timeout: float = 5.0, after: int = 0) -> Recorded:
        """The first request (at or after index `after`) matching `pred`, waiting if need be."""
        for rec in self.requests[after:]:
            if pred(rec):
                return rec
        fut: asyncio.Future[Recorded] = asyncio.get_running_loop().create_future()
        waiter = (pred, after, fut)
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
