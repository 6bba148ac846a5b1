"""`/metrics`: Prometheus text that prometheus-client's own parser reads, moving with each job."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.fal.simulator import FalSimulator
from bot.metrics import Metrics
from bot.run import Running, serving
from core import job_log
from core.errors import BotError
from core.jobs import Actor, JobState
from tests.fakes.asking import Ask, submit
from tests.fakes.builders import make_job
from tests.fakes.reply import RecordingReply
from tests.integration.ops.conftest import ops_settings

ACTOR = Actor("console", "w1", "u1")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample by name and labels, read by prometheus-client's parser."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


def request(prompt: str, model: str = "flux-schnell") -> Ask:
    return Ask(ACTOR, model, {"prompt": prompt}, ())


@asynccontextmanager
async def client(running: Running) -> AsyncIterator[aiohttp.ClientSession]:
    assert running.metrics_server is not None
    base = f"http://127.0.0.1:{running.metrics_server.port}"
    async with aiohttp.ClientSession(base, timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def scrape(http: aiohttp.ClientSession) -> Samples:
    async with http.get("/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        return parse(await response.text())


async def test_metrics_parse_and_their_counters_move_with_a_job(
    fal_sim: FalSimulator, db_path: Path
) -> None:
    settings = ops_settings(fal_sim, db_path, FALBOT_MAX_CONCURRENCY=1)
    async with serving(settings) as running, client(running) as http:
        before = await scrape(http)
        assert value(before, "falbot_jobs_total", state="queued", model="flux-schnell") == 0
        assert value(before, "falbot_queue_depth") == 0

        fal_sim.hold = True  # the first job stays at fal, the second waits in falbot's line
        replies = [RecordingReply(), RecordingReply()]
        for reply in replies:
            await submit(running.app.engine, request("a fox"), reply)
        await fal_sim.wait_for_submits(1)
        held = await scrape(http)
        assert value(held, "falbot_queue_depth") == 1
        assert value(held, "falbot_jobs_at_fal") == running.app.engine.at_fal >= 1
        assert value(held, "falbot_jobs_total", state="queued", model="flux-schnell") == 2
        assert value(held, "falbot_jobs_total", state="started", model="flux-schnell") == 1

        fal_sim.hold = False
        fal_sim.release()
        for reply in replies:
            await reply.wait(10)
            assert reply.delivery is not None
        cost = sum(r.delivery.result.cost_usd for r in replies if r.delivery)

        after = await scrape(http)
    assert value(after, "falbot_queue_depth") == 0
    for state in ("queued", "started", "completed"):
        assert value(after, "falbot_jobs_total", state=state, model="flux-schnell") == 2
    assert value(after, "falbot_jobs_total", state="failed", model="flux-schnell") == 0
    assert value(after, "falbot_cost_usd_total", model="flux-schnell", workspace="w1") == (
        pytest.approx(float(cost))
    )
    ended = {"model": "flux-schnell", "outcome": "completed"}
    assert value(after, "falbot_job_duration_seconds_count", **ended) == 2
    assert value(after, "falbot_job_duration_seconds_sum", **ended) > 0
    assert value(after, "falbot_fal_job_duration_seconds_count", model="flux-schnell") == 2
    # fal's HTTP requests, each counted once: what falbot sent is what the simulator saw.
    for operation in ("submit", "result", "download"):
        assert value(after, "falbot_fal_requests_total", operation=operation) == 2
    assert value(after, "falbot_fal_responses_total", operation="submit", status="200") == 2
    assert total(after, "falbot_fal_requests_total") == fal_sim.http_total
    assert total(after, "falbot_fal_request_duration_seconds_count") == fal_sim.http_total


async def test_admission_refusals_are_counted_by_code(
    metrics_http: aiohttp.ClientSession, running: Running
) -> None:
    bad = request("x", model="no-such-model")
    for _ in range(2):
        with pytest.raises(BotError):
            await submit(running.app.engine, bad, RecordingReply())
    samples = await scrape(metrics_http)
    assert value(samples, "falbot_admission_refusals_total", code="invalid_input") == 2
    assert total(samples, "falbot_jobs_total") == 0


async def test_queue_depth_and_jobs_at_fal_are_read_from_the_engine_at_each_scrape() -> None:
    class Engine:
        waiting = 7
        at_fal = 3
        shared_line = None  # one process: its line is its own
        leases = None

    metrics = Metrics()
    engine = Engine()
    metrics.watch_engine(engine)
    first = parse(metrics.exposition()[0].decode())
    engine.waiting = 2
    second = parse(metrics.exposition()[0].decode())
    assert (value(first, "falbot_queue_depth"), value(first, "falbot_jobs_at_fal")) == (7, 3)
    assert value(second, "falbot_queue_depth") == 2


def emit_all(records: Iterable[tuple[str, dict[str, str]]]) -> None:
    job = make_job(model="veo3", workspace_id="w9")
    for event, fields in records:
        job_log.emit(event, job, **fields)


def test_failed_and_cancelled_jobs_are_counted_by_state_and_code_even_with_quiet_logs() -> None:
    logger = logging.getLogger("falbot.events")
    logger.setLevel(logging.WARNING)  # an operator silenced job events in the log
    metrics = Metrics()
    metrics.install()
    try:
        emit_all(
            [
                (job_log.JOB_QUEUED, {}),
                (job_log.JOB_STARTED, {}),
                (job_log.JOB_FAILED, {"code": "provider_rejected"}),
            ]
        )
        cancelled = make_job(model="veo3", state=JobState.CANCELLED)
        job_log.emit(job_log.JOB_FAILED, cancelled, code="cancelled")
    finally:
        metrics.uninstall()
    assert logger.level == logging.WARNING  # given back as it was
    logger.setLevel(logging.NOTSET)
    samples = parse(metrics.exposition()[0].decode())
    assert value(samples, "falbot_jobs_total", state="failed", model="veo3") == 1
    assert value(samples, "falbot_jobs_total", state="cancelled", model="veo3") == 1
    assert value(samples, "falbot_job_failures_total", code="provider_rejected") == 1
    assert value(samples, "falbot_job_failures_total", code="cancelled") == 1
    failed = {"model": "veo3", "outcome": "failed"}
    assert value(samples, "falbot_job_duration_seconds_count", **failed) == 1
    assert value(samples, "falbot_fal_job_duration_seconds_count", model="veo3") == 1
    assert value(samples, "falbot_cost_usd_total", model="veo3", workspace="w9") == 0
    emit_all([(job_log.JOB_QUEUED, {})])  # after uninstall: not counted
    again = parse(metrics.exposition()[0].decode())
    assert value(again, "falbot_jobs_total", state="queued", model="veo3") == 1


def test_a_job_charged_though_it_did_not_complete_counts_in_the_cost() -> None:
    metrics = Metrics()
    metrics.install()
    try:
        charged = make_job(model="veo3", workspace_id="w9", state=JobState.CANCELLED)
        job_log.emit(job_log.JOB_FAILED, charged, code="cancelled", cost_usd="3.2")
        free = make_job(model="veo3", workspace_id="w9", state=JobState.CANCELLED)
        job_log.emit(job_log.JOB_FAILED, free, code="cancelled")
    finally:
        metrics.uninstall()
    samples = parse(metrics.exposition()[0].decode())
    assert value(samples, "falbot_cost_usd_total", model="veo3", workspace="w9") == 3.2
