"""`/healthz` on the one HTTP server `falbot run` starts: 200 when healthy, 503 when not."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from adapters.fal.simulator import FalSimulator, Fault
from bot.http import Health, HttpServer
from bot.run import Running, serving
from core.errors import BotError, ErrorCode
from core.jobs import Actor
from tests.fakes.asking import Ask, submit
from tests.fakes.reply import RecordingReply
from tests.integration.slack.harness import new_fake, settings_for

ANN = Actor("console", "w1", "ann")


async def test_healthz_is_200_with_the_database_reachable_and_the_circuit_closed(
    http: aiohttp.ClientSession,
) -> None:
    async with http.get("/healthz") as response:
        assert response.status == 200
        body = await response.json()
    assert body == {
        "status": "ok",
        "instance": f"{socket.gethostname()}-{os.getpid()}",  # which process answered
        "line": "local",  # SQLite: this process's own line
        "database": "ok",
        "adapters": {},
        "circuit": "closed",
    }


async def test_healthz_is_503_when_a_process_lost_its_hold_on_its_jobs() -> None:
    async def database() -> None:
        return None

    facts = {"instance": "replica-b", "line": "shared", "leases": "held", "wake_ups": "polling"}
    server = HttpServer(
        host="127.0.0.1", port=0, health=Health(database=database, process=lambda: facts)
    )
    await server.start()
    try:
        url = f"http://127.0.0.1:{server.port}/healthz"
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as response:
                assert response.status == 200
                assert (await response.json())["instance"] == "replica-b"
            facts["leases"] = "lapsed"  # its leases ran out: others may be taking its jobs
            async with session.get(url) as response:
                assert response.status == 503
                body = await response.json()
        assert (body["status"], body["leases"]) == ("unhealthy", "lapsed")
    finally:
        await server.close()


async def test_healthz_is_503_when_the_database_file_is_gone(
    http: aiohttp.ClientSession, db_path: Path
) -> None:
    for path in db_path.parent.glob(db_path.name + "*"):  # the file, its -wal and -shm
        path.unlink()
    async with http.get("/healthz") as response:
        assert response.status == 503
        body = await response.json()
    assert body["status"] == "unhealthy"
    assert body["database"] == "unreachable"


async def test_healthz_is_503_when_the_database_connection_is_closed(
    http: aiohttp.ClientSession, running: Running
) -> None:
    await running.app.store.close()
    async with http.get("/healthz") as response:
        assert response.status == 503
        assert (await response.json())["database"] == "unreachable"


async def test_healthz_reports_each_adapter_and_is_503_when_one_is_disconnected() -> None:
    async def database() -> None:
        return None

    links = {"discord": True, "slack": True}
    health = Health(database=database, circuit=lambda: "open")
    health.add_adapter("discord", lambda: links["discord"])
    health.add_adapter("slack", lambda: links["slack"])
    health.add_adapter("socket", lambda: None)
    server = HttpServer(host="127.0.0.1", port=0, health=health)
    await server.start()
    try:
        url = f"http://127.0.0.1:{server.port}/healthz"
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as response:
                assert response.status == 200
                body = await response.json()
            assert body["adapters"] == {
                "discord": "connected",
                "slack": "connected",
                "socket": "unknown",
            }
            assert body["circuit"] == "open"  # reported; fal failing is no reason to restart
            links["discord"] = False
            async with session.get(url) as response:
                assert response.status == 503
                assert (await response.json())["adapters"]["discord"] == "disconnected"
    finally:
        await server.close()


async def test_adapters_mount_their_routes_on_the_same_server_before_it_starts() -> None:
    async def database() -> None:
        return None

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="slack here")

    server = HttpServer(host="127.0.0.1", port=0, health=Health(database=database))
    server.add_routes(lambda app: app.router.add_post("/slack/events", hello))
    await server.start()
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{server.port}") as session:
            async with session.post("/slack/events") as response:
                assert await response.text() == "slack here"
            async with session.get("/healthz") as response:
                assert response.status == 200
        with pytest.raises(RuntimeError, match="before the HTTP server starts"):
            server.add_routes(lambda app: None)
    finally:
        await server.close()


async def test_healthz_shows_slack_connected_over_socket_mode(fal_sim: FalSimulator, db_path: Path):
    fake = new_fake()
    await fake.start()
    try:
        settings = settings_for(fake, fal_sim, db_path, mode="socket")
        settings = settings.model_copy(update={"http_host": "127.0.0.1"})
        async with serving(settings) as running:
            await fake.wait_socket_connected()
            url = f"http://127.0.0.1:{running.server.port}/healthz"
            async with aiohttp.ClientSession() as session, session.get(url) as response:
                assert response.status == 200
                assert (await response.json())["adapters"] == {"slack": "connected"}
    finally:
        await fake.close()


async def test_an_open_circuit_shows_in_healthz_which_stays_200_and_in_the_metrics(
    http: aiohttp.ClientSession,
    metrics_http: aiohttp.ClientSession,
    running: Running,
    fal_sim: FalSimulator,
) -> None:
    fal_sim.fail_endpoint("fal-ai/flux/schnell", Fault.server_error("runner_scheduling_failure"))
    engine = running.app.engine
    for _ in range(20):  # fal fails every job: a handful in a row opens the circuit
        if engine.circuit_state != "closed":
            break
        reply = RecordingReply()
        await submit(engine, Ask(ANN, "flux-schnell", {"prompt": "fal is down"}), reply)
        await reply.wait(timeout=10)
        assert reply.error is not None and reply.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert engine.circuit_state == "open"
    with pytest.raises(BotError):
        await submit(engine, Ask(ANN, "flux-schnell", {"prompt": "no"}), RecordingReply())

    async with http.get("/healthz") as response:
        assert response.status == 200
        body = await response.json()
    assert (body["status"], body["circuit"]) == ("ok", "open")
    async with metrics_http.get("/metrics") as response:
        metrics = await response.text()
    assert 'falbot_admission_refusals_total{code="provider_unavailable"} 1.0' in metrics
    assert 'falbot_job_failures_total{code="provider_unavailable"}' in metrics
