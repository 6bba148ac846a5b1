"""What the simulator's parts see of it: its routes and a request's life take the simulator
through these Protocols, so neither imports `FalSimulator` (no import cycle)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from adapters.fal.sim.faults import Fault, HttpFault
from adapters.fal.sim.kinds import Kind
from adapters.fal.sim.state import SimRequest, StoredFile


class Jwks(Protocol):
    def jwks(self) -> dict[str, Any]: ...


class RouteHost(Protocol):
    """The simulator as its HTTP routes use it."""

    http_total: int
    files: dict[str, StoredFile]
    tokens: set[str]
    pending_puts: dict[str, tuple[str, str, str]]
    prices: dict[str, dict[str, Any]]
    price_page_size: int | None
    pricing_access: bool
    stream_enabled: bool
    stream_keepalive: float | None
    closing: bool

    @property
    def http_by_request(self) -> Mapping[str, Counter[str]]: ...

    @property
    def queue_connections(self) -> set[tuple[str, int]]: ...

    @property
    def requests(self) -> Mapping[str, SimRequest]: ...

    @property
    def webhooks(self) -> Jwks: ...

    @property
    def base_url(self) -> str: ...

    @property
    def queue_url(self) -> str: ...

    @property
    def cdn_url(self) -> str: ...

    @property
    def changed(self) -> asyncio.Event: ...

    def authorized(self, header: str | None) -> bool: ...

    def take_http_fault(self, route: str) -> HttpFault | None: ...

    def count(self, route: str, request_id: str | None = None) -> None: ...

    def submit(
        self, endpoint: str, arguments: dict[str, Any], webhook_url: str | None
    ) -> SimRequest | Fault: ...

    def cancel(self, req: SimRequest) -> bool: ...

    def position_of(self, req: SimRequest) -> int: ...

    def store_file(self, data: bytes, content_type: str, name: str = "file.bin") -> str: ...

    def file_url(self, path: str) -> str: ...


class LifeHost(Protocol):
    """The simulator as a request's life (queue, run, completion) uses it."""

    queue_wait: float
    run_time: float
    max_running: int | None
    log_lines: list[str]
    video_fps: int
    nsfw_marker: str | None
    endpoint_kinds: dict[str, Kind]
    files: dict[str, StoredFile]

    @property
    def requests(self) -> Mapping[str, SimRequest]: ...

    @property
    def hold(self) -> bool: ...

    @property
    def hold_queue(self) -> bool: ...

    @property
    def running(self) -> int: ...

    async def wait_for(self, predicate: Callable[[], bool], within: float | None = 5.0) -> None: ...

    def fetch_input(self, url: str) -> bytes: ...

    def file_url(self, path: str) -> str: ...

    def notify(self) -> None: ...

    def complete(self, req: SimRequest, fault: Fault | None) -> None: ...
