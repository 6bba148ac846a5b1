"""Prometheus metrics for one falbot process.

core knows nothing of Prometheus: it logs one record per job event on `falbot.events` (see
`core.job_log`), and `Metrics.install()` adds a logging handler that turns those records into
counters and histograms. The waiting line and the jobs at fal are read from the engine when
scraped, and fal's HTTP requests are counted by two httpx event hooks (`on_fal_request`,
`on_fal_response`) the fal gateway calls.
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import Any, Protocol

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from core import job_log
from core.leases import Leases
from core.line import SharedLine

log = logging.getLogger(__name__)

EVENTS_LOGGER = "falbot.events"
_MAX_TRACKED = 100_000  # jobs timed at once; the oldest are forgotten past this
_JOB_BUCKETS = (1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)
_REQUEST_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_CLAIM_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
_ENDED = {"completed", "failed", "cancelled"}


class EngineGauges(Protocol):
    @property
    def waiting(self) -> int: ...

    @property
    def at_fal(self) -> int: ...

    @property
    def shared_line(self) -> SharedLine | None: ...

    @property
    def leases(self) -> Leases | None: ...


class Metrics:
    """Every metric of the process, in its own registry (so two apps in one test don't mix)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.jobs = Counter(
            "falbot_jobs",
            "Jobs by the state they reached (queued, started, completed, failed, cancelled)",
            ["state", "model"],
            registry=r,
        )
        self.failures = Counter(
            "falbot_job_failures", "Failed and cancelled jobs by error code", ["code"], registry=r
        )
        self.refusals = Counter(
            "falbot_admission_refusals", "Requests refused at admission", ["code"], registry=r
        )
        self.cost = Counter(
            "falbot_cost_usd",
            "USD charged for finished jobs, by model and workspace",
            ["model", "workspace"],
            registry=r,
        )
        self.job_seconds = Histogram(
            "falbot_job_duration_seconds",
            "From admission to fal's answer, by model and how the job ended",
            ["model", "outcome"],
            buckets=_JOB_BUCKETS,
            registry=r,
        )
        self.fal_job_seconds = Histogram(
            "falbot_fal_job_duration_seconds",
            "A job's time at fal: from its turn (inputs uploaded, submitted) to fal's answer",
            ["model"],
            buckets=_JOB_BUCKETS,
            registry=r,
        )
        self.fal_requests = Counter(
            "falbot_fal_requests", "HTTP requests sent to fal", ["operation"], registry=r
        )
        self.fal_responses = Counter(
            "falbot_fal_responses",
            "fal's HTTP answers by operation and status code (requests minus answers: no answer)",
            ["operation", "status"],
            registry=r,
        )
        self.fal_seconds = Histogram(
            "falbot_fal_request_duration_seconds",
            "fal's time to answer one HTTP request (until the headers), by operation",
            ["operation"],
            buckets=_REQUEST_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "falbot_queue_depth", "Jobs waiting in falbot's line for a slot at fal", registry=r
        )
        self.at_fal = Gauge("falbot_jobs_at_fal", "Jobs holding a slot at fal", registry=r)
        # A line shared by several processes (PostgreSQL): this process's part of it.
        self.claimed = Counter(
            "falbot_jobs_claimed", "Jobs this process took from the shared line", registry=r
        )
        self.taken_over = Counter(
            "falbot_leases_taken_over",
            "Jobs this process took over from a process whose lease ran out",
            registry=r,
        )
        self.claim_seconds = Histogram(
            "falbot_claim_latency_seconds",
            "From a wake-up (a job entered the line or a slot freed) to the claim it led to",
            buckets=_CLAIM_BUCKETS,
            registry=r,
        )
        self._handler = _EventHandler(self)
        self._queued: dict[str, float] = {}  # job id → when it was queued (monotonic)
        self._started: dict[str, float] = {}  # job id → when its turn at fal began
        self._sent: weakref.WeakKeyDictionary[httpx.Request, float] = weakref.WeakKeyDictionary()
        self._installed_level: int | None = None

    # ---- wiring

    def watch_engine(self, engine: EngineGauges) -> None:
        """Read the engine's line and slots at every scrape; count its claims and takeovers."""
        self.queue_depth.set_function(lambda: engine.waiting)
        self.at_fal.set_function(lambda: engine.at_fal)
        if engine.shared_line is not None:
            engine.shared_line.on_claim = self._on_claim
        if engine.leases is not None:
            engine.leases.on_take_over = self.taken_over.inc

    def _on_claim(self, latency: float | None) -> None:
        self.claimed.inc()
        if latency is not None:
            self.claim_seconds.observe(latency)

    def install(self) -> None:
        """Start counting job events (idempotent)."""
        logger = logging.getLogger(EVENTS_LOGGER)
        if self._handler in logger.handlers:
            return
        if not logger.isEnabledFor(logging.INFO):
            # The events are INFO records; a quieter root must not silence the metrics.
            self._installed_level = logger.level
            logger.setLevel(logging.INFO)
        logger.addHandler(self._handler)

    def uninstall(self) -> None:
        logger = logging.getLogger(EVENTS_LOGGER)
        logger.removeHandler(self._handler)
        if self._installed_level is not None:
            logger.setLevel(self._installed_level)
            self._installed_level = None

    def exposition(self) -> tuple[bytes, str]:
        """The text format and its content type, for `/metrics`."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    # ---- fal's HTTP requests (httpx event hooks; they never raise)

    async def on_fal_request(self, request: httpx.Request) -> None:
        self.fal_requests.labels(fal_operation(request)).inc()
        self._sent[request] = time.monotonic()

    async def on_fal_response(self, response: httpx.Response) -> None:
        request = response.request
        operation = fal_operation(request)
        self.fal_responses.labels(operation, str(response.status_code)).inc()
        started = self._sent.pop(request, None)
        if started is not None:
            self.fal_seconds.labels(operation).observe(time.monotonic() - started)

    # ---- job events

    def record(self, fields: dict[str, Any], now: float) -> None:
        """Count one job event (the `extra` of a `falbot.events` record)."""
        event = fields.get("event")
        if event == job_log.JOB_REFUSED:
            self.refusals.labels(str(fields.get("code", "unknown"))).inc()
            return
        model = str(fields.get("model", ""))
        job_id = str(fields.get("job_id", ""))
        if event == job_log.JOB_QUEUED:
            self.jobs.labels("queued", model).inc()
            _track(self._queued, job_id, now)
        elif event == job_log.JOB_STARTED:
            self.jobs.labels("started", model).inc()
            _track(self._started, job_id, now)
        elif event == job_log.JOB_SUCCEEDED:
            self._ended("completed", model, job_id, now)
        elif event == job_log.JOB_FAILED:
            state = str(fields.get("state", "failed"))
            self._ended(state if state in _ENDED else "failed", model, job_id, now)
            self.failures.labels(str(fields.get("code", "unknown"))).inc()
        cost = fields.get("cost_usd")  # a job fal ran is charged, delivered or not
        if cost is not None and event in (job_log.JOB_SUCCEEDED, job_log.JOB_FAILED):
            workspace = str(fields.get("workspace_id", ""))
            self.cost.labels(model, workspace).inc(float(cost))

    def _ended(self, outcome: str, model: str, job_id: str, now: float) -> None:
        self.jobs.labels(outcome, model).inc()
        queued = self._queued.pop(job_id, None)
        if queued is not None:  # None: queued before this process started
            self.job_seconds.labels(model, outcome).observe(now - queued)
        started = self._started.pop(job_id, None)
        if started is not None:
            self.fal_job_seconds.labels(model).observe(now - started)


def _track(times: dict[str, float], job_id: str, now: float) -> None:
    times[job_id] = now
    if len(times) > _MAX_TRACKED:
        del times[next(iter(times))]


class _EventHandler(logging.Handler):
    """Feeds `falbot.events` records to `Metrics.record`."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(level=logging.INFO)
        self._metrics = metrics

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "falbot", None)
        if not isinstance(fields, dict):
            return
        try:
            self._metrics.record(fields, time.monotonic())
        except Exception:
            self.handleError(record)


def fal_operation(request: httpx.Request) -> str:
    """What a request to fal does, from its method and path (a label of few values)."""
    path = request.url.path
    if "/requests/" in path:
        if path.endswith("/status/stream"):
            return "stream"
        if path.endswith("/status"):
            return "status"
        if path.endswith("/cancel"):
            return "cancel"
        return "result"
    if "/storage/" in path or path.endswith("/files/upload"):
        return "upload"
    return "submit" if request.method == "POST" else "download"
