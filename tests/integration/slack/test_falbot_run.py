"""`falbot run` starts Slack from its settings alone, and a job goes all the way through it."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import aiohttp

from adapters.fal.simulator import FalSimulator
from bot.run import run, serving
from tests.fakes.slack import FakeSlack, SignedSender
from tests.fakes.slack import payloads as p
from tests.integration.slack.harness import ANN, CHANNEL, SIGNING_SECRET, TEAM, settings_for


async def test_falbot_run_serves_slack_over_socket_mode(
    fake: FakeSlack, fal_sim: FalSimulator, db_path: Path
) -> None:
    settings = settings_for(fake, fal_sim, db_path, mode="socket")
    ready = asyncio.Event()
    running = asyncio.create_task(run(settings, ready=ready))
    try:
        async with asyncio.timeout(10):
            await ready.wait()
        await fake.wait_socket_connected()
        form = p.slash_command(
            "/imagine",
            "a lantern in fog",
            team_id=TEAM,
            user_id=ANN,
            channel_id=CHANNEL,
            response_url=fake.response_url(),
        )
        await fake.wait_ack(await fake.socket_send("slash_commands", form))
        final = await fake.wait_for(
            "chat.update", lambda c: str(c.params.get("text", "")).startswith("Done"), timeout=10
        )
        assert "flux-schnell · $" in final.params["text"]
        complete = await fake.wait_for("files.completeUploadExternal")
        assert complete.params["channel_id"] == CHANNEL
        assert fal_sim.submits[0][1]["prompt"] == "a lantern in fog"
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_falbot_run_serves_slack_over_http_on_its_one_server(
    fake: FakeSlack, fal_sim: FalSimulator, db_path: Path
) -> None:
    settings = settings_for(fake, fal_sim, db_path, mode="http")
    async with serving(settings) as running:
        base = f"http://127.0.0.1:{running.server.port}"
        sender = SignedSender(f"{base}/slack/events", SIGNING_SECRET)
        try:
            form = p.slash_command(
                "/imagine",
                "a lantern in fog",
                team_id=TEAM,
                user_id=ANN,
                channel_id=CHANNEL,
                response_url=fake.response_url(),
            )
            assert (await sender.command(form)).status == 200
            final = await fake.wait_for(
                "chat.update", lambda c: str(c.params.get("text", "")).startswith("Done")
            )
            assert "flux-schnell · $" in final.params["text"]
            forged = await sender.command(form, signature="v0=" + "f" * 64)
            assert forged.status == 401
            async with aiohttp.ClientSession() as session, session.get(f"{base}/healthz") as r:
                health = await r.json()
            assert health["adapters"]["slack"] == "connected"
        finally:
            await sender.close()


async def test_healthz_reports_the_socket_mode_connection(
    fake: FakeSlack, fal_sim: FalSimulator, db_path: Path
) -> None:
    settings = settings_for(fake, fal_sim, db_path, mode="socket")
    async with serving(settings) as running, aiohttp.ClientSession() as session:
        await fake.wait_socket_connected()
        url = f"http://127.0.0.1:{running.server.port}/healthz"
        async with session.get(url) as resp:
            assert resp.status == 200
            assert (await resp.json())["adapters"]["slack"] == "connected"
