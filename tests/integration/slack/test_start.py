"""Starting Slack: the bot token is checked with `auth.test`, `/healthz` says what Slack
answered, Bolt says nothing about a token it will not use, and `falbot check` says what
`falbot run` starts (Socket Mode needs no signing secret)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from pathlib import Path

import aiohttp
import pytest

from adapters.fal.simulator import FalSimulator
from bot.check import run_check
from bot.run import StartFailed, keep_checking_slack, serving
from tests.fakes.slack import FakeSlack
from tests.integration.slack.harness import APP_TOKEN, BOT_TOKEN, settings_for


async def healthz(port: int) -> dict[str, object]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        body: dict[str, object] = await response.json()
        return body


async def test_http_mode_checks_the_token_at_start_and_healthz_says_so(
    fake: FakeSlack,
    fal_sim: FalSimulator,
    db_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)  # as in production: Bolt reads it too
    caplog.set_level(logging.INFO)
    async with serving(settings_for(fake, fal_sim, db_path, mode="http")) as running:
        assert fake.calls_to("auth.test")
        health = await healthz(running.server.port)
    assert health["adapters"] == {"slack": "connected"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [w for w in warnings if "will be unused" in w], warnings


async def test_a_token_slack_refuses_stops_the_start_with_what_to_do(
    fake: FakeSlack, fal_sim: FalSimulator, db_path: Path
) -> None:
    settings = settings_for(fake, fal_sim, db_path, mode="http")
    settings = settings.model_copy(
        update={"slack_bot_token": type(settings.slack_bot_token)("xoxb-revoked")}
    )
    with pytest.raises(StartFailed, match=r"Slack refused SLACK_BOT_TOKEN \(invalid_auth\)"):
        async with serving(settings):
            pass


def test_check_and_run_agree_that_socket_mode_needs_no_signing_secret(tmp_path: Path) -> None:
    out = io.StringIO()
    env = {"FAL_KEY": "k-id:k-secret", "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}
    assert run_check(out, env, env_file=None) == 0
    assert "falbot run will start: Slack (Socket Mode)" in out.getvalue()


def test_check_reports_a_slack_bot_token_alone(tmp_path: Path) -> None:
    out = io.StringIO()
    env = {"FAL_KEY": "k-id:k-secret", "SLACK_BOT_TOKEN": BOT_TOKEN}
    assert run_check(out, env, env_file=None) == 1
    assert "Slack will not start: SLACK_BOT_TOKEN needs SLACK_SIGNING_SECRET" in out.getvalue()


async def test_socket_mode_starts_without_a_signing_secret(
    fake: FakeSlack, fal_sim: FalSimulator, db_path: Path
) -> None:
    settings = settings_for(fake, fal_sim, db_path, mode="socket")
    settings = settings.model_copy(update={"slack_signing_secret": None})
    async with serving(settings) as running:
        await fake.wait_socket_connected()
        health = await healthz(running.server.port)
    assert health["adapters"] == {"slack": "connected"}


async def test_healthz_says_when_slack_stops_accepting_the_token(
    fake: FakeSlack, fal_sim: FalSimulator, db_path: Path
) -> None:
    slept: asyncio.Queue[float] = asyncio.Queue()
    ticks: asyncio.Queue[None] = asyncio.Queue()

    async def sleep(seconds: float) -> None:  # time passes when the test says so
        slept.put_nowait(seconds)
        await ticks.get()

    async with serving(settings_for(fake, fal_sim, db_path, mode="http")) as running:
        slack = running.app.extras["slack"]
        checking = asyncio.create_task(keep_checking_slack(slack, every=60, sleep=sleep))
        try:
            assert await asyncio.wait_for(slept.get(), 5) == 60
            assert (await healthz(running.server.port))["adapters"] == {"slack": "connected"}
            fake.bot_token = "xoxb-someone-revoked-it"
            ticks.put_nowait(None)
            await asyncio.wait_for(slept.get(), 5)
            health = await healthz(running.server.port)
            assert health["adapters"] == {"slack": "disconnected"}
            assert health["status"] == "unhealthy"
            fake.bot_token = BOT_TOKEN
            ticks.put_nowait(None)
            await asyncio.wait_for(slept.get(), 5)
            assert (await healthz(running.server.port))["adapters"] == {"slack": "connected"}
        finally:
            checking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checking
