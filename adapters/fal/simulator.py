"""A fal simulator: an aiohttp server on loopback that speaks fal's queue, status stream,
storage and CDN protocol (fal's queue API), for tests, benchmarks and the demo.

    sim = FalSimulator(key="sim-key")
    await sim.start()
    point_fal_client_at(queue_url=sim.queue_url, rest_url=sim.rest_url, cdn_url=sim.cdn_url)
    ...
    await sim.close()

One server serves all four hosts under path prefixes: `/queue` (submit, status, status
stream, result, cancel), `/rest` (storage token, initiate upload), `/cdn` (upload, files),
`/api` (api.fal.ai: the pricing API, `api_url`), plus `/gcs` (the signed PUT of the initiate
flow). Queue, REST and API calls need `Authorization: Key <key>` (401 otherwise); CDN uploads
need a token from `/rest`.

Outputs are real: PNGs drawn with Pillow (size from `image_size`, `aspect_ratio` and
`resolution`; `num_images` of them; different for every request), esrgan's input ×`scale`, and
a small H.264 MP4 for video endpoints. Edit and upscale inputs are read from the simulator's own
CDN or `data:` URIs; anything else fails the request with a 422.

Test controls (plain attributes and methods; all take effect at once):

- `queue_wait`, `run_time`: seconds a request spends IN_QUEUE and IN_PROGRESS (real time, 0 by
  default). `log_lines`: the log messages emitted while running, spread over `run_time`.
- `hold_queue` / `admit(request_id | None)`: while set, requests stay IN_QUEUE until admitted.
  `hold` / `release(request_id | None)`: while set, requests stay IN_PROGRESS (all their logs
  emitted) until released. `None` means every request held now. Deterministic, no sleeps.
- `max_running`: at most this many IN_PROGRESS at once (others wait IN_QUEUE, like an account's
  concurrency limit). `queue_ahead`: phantom requests counted in every `queue_position`.
- `fail_next(fault, count=1)`, `fail_endpoint(endpoint, fault | None)`: the next submits, or every
  submit to an endpoint, end with a `Fault` (`Fault.validation`, `.content_policy`,
  `.server_error(error_type)`, `.timeout`, `.completed_error`; `at_submit=True` refuses the
  submit itself).
- `inject(route, HttpFault, count=1)`: answer the next requests to a route (`ROUTES`: submit,
  status, stream, result, cancel, token, cdn_upload, initiate, put, cdn_get) with an HTTP error,
  an ingress error page, a 429, a delay, or a dropped connection (a stream drops after its first
  event).
- `chaos`: a function of the route called for every request no injected fault answers; the
  `HttpFault` it returns (or None) answers it: random failure rates, bursts, whatever a test
  needs (use a seeded `random.Random`).
- `stream_enabled`: False answers the status stream with 404 (clients must poll).
  `stream_keepalive`: seconds between `: keepalive` comments on an idle stream (None: none).
- `nsfw_marker`: a prompt containing it gets `has_nsfw_concepts: true`.
- `prices` (`sim/pricing.py`): the pricing API's table, endpoint → `{unit_price, unit,
  currency}` (default: the built-in prices); change, remove or spoil entries freely.
  `quote_tier(endpoint, tier)` quotes one tier of a multi-tier model (Veo 3 `"with audio"`,
  Wan `"1080p"`, `"4K"`), as fal's one figure may be any of them.
  `price_page_size`: entries per page (None: one page). `pricing_access = False`: the key is
  good but may not read prices (403). Faults: `inject("pricing", HttpFault(...))`.
- `endpoint_kinds`: endpoint → image | edit | upscale | video (defaults:
  `DEFAULT_KINDS`).
- `on_completed`: async callbacks run (as owned tasks) when a request completes — the place to
  deliver webhooks from (`SimRequest.webhook_url`).
- `webhooks` (`sim/webhooks.py`): a request submitted with `fal_webhook` gets fal's webhook on
  completion, ED25519-signed; the public key is served at `jwks_url`. `webhooks.drop`,
  `.repeat`, `.delay`; records in `webhooks.deliveries`.

Records: `submits` (endpoint, arguments) in order; `requests` by id (`SimRequest`);
`in_flight` and `peak_in_flight` (submitted, not completed); `http_total`, `http_by_route`,
`http_by_request[request_id]` (a Counter by route: the submit, status, stream, result and
cancel calls of that request; `sum(...values())` is its total); `queue_connections`, the
client addresses (host, port) the queue's calls came from, one per TCP connection;
`files` on the CDN. Waits: `await wait_for_submits(n)`, `wait_for_state(request_id, state)`,
`wait_for(predicate)`, each giving up with TimeoutError after `within` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from adapters.fal.sim.faults import ROUTES, Fault, HttpFault
from adapters.fal.sim.kinds import DEFAULT_KINDS, Kind
from adapters.fal.sim.lifecycle import live
from adapters.fal.sim.media import parse_data_uri
from adapters.fal.sim.pricing import default_prices, tier_prices
from adapters.fal.sim.routes import build_app
from adapters.fal.sim.state import SimRequest, State, StoredFile
from adapters.fal.sim.webhooks import SimWebhooks

log = logging.getLogger(__name__)

__all__ = ["ROUTES", "FalSimulator", "Fault", "HttpFault", "SimRequest", "StoredFile"]


class FalSimulator:
    """See the module docstring for the protocol, the controls and the records."""

    def __init__(self, *, key: str = "sim-key") -> None:
        self.key = key
        # timing and shape
        self.queue_wait = 0.0
        self.run_time = 0.0
        self.max_running: int | None = None
        self.queue_ahead = 0
        self.log_lines: list[str] = ["Loading the model", "Generating", "Encoding the output"]
        self.stream_enabled = True
        self.stream_keepalive: float | None = None
        self.video_fps = 2
        self.nsfw_marker: str | None = "nsfw"
        self.endpoint_kinds: dict[str, Kind] = dict(DEFAULT_KINDS)
        self.on_completed: list[Callable[[SimRequest], Coroutine[Any, Any, None]]] = []
        self.prices: dict[str, dict[str, Any]] = default_prices()
        self.price_page_size: int | None = None
        self.pricing_access = True
        self._hold_queue = False
        self._hold = False
        # failures
        self._next_faults: deque[Fault] = deque()
        self._endpoint_faults: dict[str, Fault] = {}
        self._http_faults: dict[str, deque[HttpFault]] = defaultdict(deque)
        self.chaos: Callable[[str], HttpFault | None] | None = None
        # records
        self.submits: list[tuple[str, dict[str, Any]]] = []
        self.requests: dict[str, SimRequest] = {}
        self.peak_in_flight = 0
        self.http_total = 0
        self.http_by_route: Counter[str] = Counter()
        self.http_by_request: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.queue_connections: set[tuple[str, int]] = set()
        self.files: dict[str, StoredFile] = {}
        # machinery
        self.tokens: set[str] = set()
        self.pending_puts: dict[str, tuple[str, str, str]] = {}  # id → (signature, path, type)
        self._changed = asyncio.Event()
        self._lifecycles: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._base_url = ""
        self.closing = False
        # signed webhooks to `fal_webhook` URLs, and their JWKS (after `on_completed` is made)
        self.webhooks = SimWebhooks(self.on_completed)

    # -- server ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        self._runner = web.AppRunner(build_app(self), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self._base_url = f"http://127.0.0.1:{port}"
        log.info("fal simulator listening on %s", self._base_url)

    async def close(self) -> None:
        """Stop every request's task, end open streams, and close the server."""
        self.closing = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        self.notify()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.webhooks.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FalSimulator:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        if not self._base_url:
            raise RuntimeError("the simulator is not started")
        return self._base_url

    @property
    def queue_url(self) -> str:
        return f"{self.base_url}/queue"

    @property
    def rest_url(self) -> str:
        return f"{self.base_url}/rest"

    @property
    def cdn_url(self) -> str:
        return f"{self.base_url}/cdn"

    @property
    def api_url(self) -> str:
        """api.fal.ai's stand-in: the pricing API is `{api_url}/v1/models/pricing`."""
        return f"{self.base_url}/api"

    @property
    def jwks_url(self) -> str:
        """Where the webhook signing key is published (fal's `/.well-known/jwks.json`)."""
        return f"{self.base_url}/rest/.well-known/jwks.json"

    # -- controls --------------------------------------------------------------------------

    @property
    def hold(self) -> bool:
        return self._hold

    @hold.setter
    def hold(self, value: bool) -> None:
        self._hold = value
        self.notify()

    @property
    def hold_queue(self) -> bool:
        return self._hold_queue

    @hold_queue.setter
    def hold_queue(self, value: bool) -> None:
        self._hold_queue = value
        self.notify()

    def release(self, request_id: str | None = None) -> None:
        """Let a held IN_PROGRESS request (None: every request so far) complete."""
        for req in self._matching(request_id):
            req.released = True
        self.notify()

    def admit(self, request_id: str | None = None) -> None:
        """Let a request held IN_QUEUE (None: every request so far) start."""
        for req in self._matching(request_id):
            req.admitted = True
        self.notify()

    def fail_next(self, fault: Fault, count: int = 1) -> None:
        self._next_faults.extend([fault] * count)

    def fail_endpoint(self, endpoint: str, fault: Fault | None) -> None:
        if fault is None:
            self._endpoint_faults.pop(endpoint, None)
        else:
            self._endpoint_faults[endpoint] = fault

    def inject(self, route: str, fault: HttpFault, count: int = 1) -> None:
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; one of {', '.join(ROUTES)}")
        self._http_faults[route].extend([fault] * count)

    def quote_tier(self, endpoint: str, tier: str) -> None:
        """The pricing API quotes `endpoint` at one of its tiers (names: `tier_prices`)."""
        tiers = tier_prices(endpoint)
        if tier not in tiers:
            raise ValueError(f"{endpoint} has no tier {tier!r}; one of {', '.join(tiers)}")
        self.prices[endpoint]["unit_price"] = float(tiers[tier])

    def store_file(self, data: bytes, content_type: str, name: str = "file.bin") -> str:
        """Put a file on the simulated CDN (as an upload would) and return its URL."""
        path = f"up/{uuid.uuid4().hex}/{name}"
        self.files[path] = StoredFile(content_type, data=data)
        return self.file_url(path)

    def file_url(self, path: str) -> str:
        return f"{self.cdn_url}/files/{path}"

    # -- records and waits -----------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        return sum(1 for r in self.requests.values() if r.state != "COMPLETED")

    @property
    def running(self) -> int:
        return sum(1 for r in self.requests.values() if r.state == "IN_PROGRESS")

    def http_requests(self, request_id: str) -> int:
        """Every HTTP request made about one fal request (submit included)."""
        return sum(self.http_by_request[request_id].values())

    def position_of(self, req: SimRequest) -> int:
        ahead = sum(1 for r in self.requests.values() if r.state == "IN_QUEUE" and r.seq < req.seq)
        return self.queue_ahead + ahead

    async def wait_for(self, predicate: Callable[[], bool], within: float | None = 5.0) -> None:
        """Return once `predicate()` holds; TimeoutError after `within` seconds (None: never)."""
        async with asyncio.timeout(within):
            while not predicate():
                await self._changed.wait()

    async def wait_for_submits(self, count: int, within: float = 5.0) -> None:
        await self.wait_for(lambda: len(self.submits) >= count, within)

    async def wait_for_state(self, request_id: str, state: State, within: float = 5.0) -> None:
        order = ("IN_QUEUE", "IN_PROGRESS", "COMPLETED")

        def reached() -> bool:
            req = self.requests.get(request_id)
            return req is not None and order.index(req.state) >= order.index(state)

        await self.wait_for(reached, within)

    # -- used by the routes ----------------------------------------------------------------

    @property
    def changed(self) -> asyncio.Event:
        """Set (and replaced) at every change of any request."""
        return self._changed

    def authorized(self, header: str | None) -> bool:
        return header == f"Key {self.key}"

    def take_http_fault(self, route: str) -> HttpFault | None:
        queue = self._http_faults.get(route)
        if queue:
            return queue.popleft()
        return self.chaos(route) if self.chaos is not None else None

    def count(self, route: str, request_id: str | None = None) -> None:
        self.http_by_route[route] += 1
        if request_id is not None:
            self.http_by_request[request_id][route] += 1
        self.notify()  # so tests can wait on calls too

    def submit(
        self, endpoint: str, arguments: dict[str, Any], webhook_url: str | None
    ) -> SimRequest | Fault:
        """Queue a request, or return the fault that refuses it."""
        fault = self._next_faults.popleft() if self._next_faults else None
        fault = fault or self._endpoint_faults.get(endpoint)
        if fault is not None and fault.at_submit:
            return fault
        parts = endpoint.split("/")
        loop = asyncio.get_running_loop()
        req = SimRequest(
            id=str(uuid.uuid4()),
            endpoint=endpoint,
            app="/".join(parts[:2]),
            arguments=arguments,
            webhook_url=webhook_url,
            seq=len(self.submits),
            submitted_at=loop.time(),
            fault=fault,
        )
        self.requests[req.id] = req
        self.submits.append((endpoint, arguments))
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        self._lifecycles[req.id] = self._own(live(self, req), f"fal-sim {req.id}")
        self.notify()
        return req

    def cancel(self, req: SimRequest) -> bool:
        """Cancel a request not yet completed; False if it had completed."""
        if req.state == "COMPLETED":
            return False
        req.cancelled_while = req.state
        task = self._lifecycles.pop(req.id, None)
        if task is not None:
            task.cancel()
        self.complete(req, Fault.cancelled())
        return True

    def fetch_input(self, url: str) -> bytes:
        """An input file fal would download: our CDN's files and data: URIs only."""
        if url.startswith("data:"):
            return parse_data_uri(url)[1]
        prefix = f"{self.cdn_url}/files/"
        if url.startswith(prefix) and url[len(prefix) :] in self.files:
            return self.files[url[len(prefix) :]].read_sync()
        raise ValueError("not a file this simulator can read")

    def complete(self, req: SimRequest, fault: Fault | None) -> None:
        """End a request: with its output, or with `fault`."""
        req.state = "COMPLETED"
        req.fault = fault
        req.completed_at = asyncio.get_running_loop().time()
        self._lifecycles.pop(req.id, None)
        self.notify()
        for callback in self.on_completed:
            self._own(callback(req), f"fal-sim on_completed {req.id}")

    def _matching(self, request_id: str | None) -> list[SimRequest]:
        if request_id is None:
            return list(self.requests.values())
        req = self.requests.get(request_id)
        if req is None:
            raise KeyError(f"no request {request_id}")
        return [req]

    def notify(self) -> None:
        """Wake whatever waits on a change."""
        self._changed.set()
        self._changed = asyncio.Event()

    def _own(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("fal simulator task %s failed", task.get_name(), exc_info=task.exception())
