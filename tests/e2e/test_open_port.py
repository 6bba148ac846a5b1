"""The public port of `falbot run`, as the internet can reach it: `/metrics` is not on it,
`/healthz` says nothing private, idle and slow sockets are closed, and connections are capped
per client address and in all, so they can never use up the process's open files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from adapters.fal.simulator import FalSimulator
from tests.e2e.port_support import (
    close_all,
    connect,
    connect_many,
    healthz_seconds,
    open_files,
)
from tests.e2e.process import FalbotProcess, free_port
from tests.e2e.support import (
    CHANNEL,
    SIGNING_SECRET,
    TEAM,
    falbot_env,
    running_slack,
    wait_all_final,
)
from tests.fakes.slack import FakeSlack, SignedSender
from tests.fakes.slack import payloads as p

USER = "UPORT"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with running_slack((USER,)) as fake:
        yield fake


async def get(url: str) -> tuple[int, str]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
        return response.status, await response.text()


async def test_metrics_are_served_on_their_own_port_and_healthz_says_nothing_private(
    fal_sim: FalSimulator, slack: FakeSlack, tmp_path: Path
) -> None:
    db = tmp_path / "falbot.db"
    port, metrics_port = free_port(), free_port()
    env = falbot_env(fal_sim, slack, db, port) | {"FALBOT_METRICS_PORT": str(metrics_port)}
    sender = SignedSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET)
    proc = FalbotProcess(env, cwd=tmp_path)
    try:
        await proc.start()
        form = p.slash_command(
            "/imagine",
            "a lighthouse --model flux-schnell",
            team_id=TEAM,
            user_id=USER,
            channel_id=CHANNEL,
            response_url=slack.response_url(),
        )
        assert (await sender.command(form)).status == 200
        (job,) = await wait_all_final(db, within=20)
        public_metrics = await get(f"http://127.0.0.1:{port}/metrics")
        healthz = await get(f"http://127.0.0.1:{port}/healthz")
        private = await get(f"http://127.0.0.1:{metrics_port}/metrics")
        await proc.terminate(within=10)
    finally:
        await sender.close()
        await proc.close()

    assert job["state"] == "delivered"
    assert public_metrics[0] == 404
    assert private[0] == 200
    assert f'workspace="{TEAM}"' in private[1]  # spend per workspace: for the operator only
    assert healthz[0] == 200
    assert TEAM not in healthz[1] and USER not in healthz[1] and "usd" not in healthz[1].lower()
    started = next(line for line in proc.lines if line.get("event") == "started")
    assert started  # and the metrics port is loopback unless told otherwise:
    assert any(
        f"metrics served on 127.0.0.1:{metrics_port}" in line.get("msg", "") for line in proc.lines
    ), proc.tail()


async def test_idle_and_slow_request_heads_are_closed_after_the_idle_timeout(
    fal_sim: FalSimulator, slack: FakeSlack, tmp_path: Path
) -> None:
    port = free_port()
    env = falbot_env(fal_sim, slack, tmp_path / "falbot.db", port) | {
        "FALBOT_HTTP_IDLE_TIMEOUT": "1",
    }
    proc = FalbotProcess(env, cwd=tmp_path)
    try:
        await proc.start()
        silent = await connect(port)
        slow = await connect(port)
        slow.writer.write(b"GET /healthz HTTP/1.1\r\nHost: falbot\r\n")  # the head never ends
        kept_alive = await connect(port)
        kept_alive.writer.write(b"GET /healthz HTTP/1.1\r\nHost: falbot\r\n\r\n")
        first_answer = await asyncio.wait_for(kept_alive.reader.readuntil(b"\r\n\r\n"), 10)
        # Far beyond 1 s on a loaded box, far below aiohttp's default hour:
        closed = [await c.closed_by_server(within=15) for c in (silent, slow, kept_alive)]
        close_all([silent, slow, kept_alive])
        await healthz_seconds(port)
    finally:
        await proc.close()
    assert first_answer.startswith(b"HTTP/1.1 200")
    assert closed == [True, True, True]


async def test_connections_are_capped_per_address_and_in_all_and_healthz_still_answers(
    fal_sim: FalSimulator, slack: FakeSlack, tmp_path: Path
) -> None:
    port = free_port()
    env = falbot_env(fal_sim, slack, tmp_path / "falbot.db", port) | {
        "FALBOT_HTTP_MAX_CONNECTIONS": "40",
        "FALBOT_HTTP_MAX_PER_ADDRESS": "10",
        "FALBOT_HTTP_IDLE_TIMEOUT": "120",  # only the caps close anything in this test
    }
    proc = FalbotProcess(env, cwd=tmp_path)
    held: list = []
    try:
        await proc.start()
        await healthz_seconds(port, within=5)
        baseline = open_files(proc.pid)

        # One address, 30 idle connections: its first 10 are kept, the others closed at once.
        held = await connect_many(port, 30, sources=["127.0.0.2"])
        closed = [await c.closed_by_server(within=5) for c in held[10:]]
        assert closed == [True] * 20
        assert not await held[0].closed_by_server(within=0.2)
        after_one = open_files(proc.pid)
        assert after_one - baseline <= 10 + 2, (baseline, after_one)

        # Nine more addresses, 10 each: 100 wanted, 40 kept in all, shared out among them
        # (a newcomer takes the place of an idle one of an address holding clearly more).
        held += await connect_many(port, 90, sources=[f"127.0.0.{i}" for i in range(3, 12)])
        assert await healthz_seconds(port) < 1.0  # an idle one made room for it
        after_all = open_files(proc.pid)
        assert after_all - baseline <= 40 + 2, (baseline, after_all)

        limit_lines = await proc.wait_for_line(
            lambda line: "HTTP connections at their limit" in line.get("msg", ""), within=5
        )
    finally:
        close_all(held)
        await proc.close()
    assert limit_lines
    # 80 connections were turned away; the log says so once per 10 s, not once each.
    limit_logged = [ln for ln in proc.lines if "at their limit" in ln.get("msg", "")]
    assert 1 <= len(limit_logged) <= 3, len(limit_logged)


async def test_a_body_sent_a_byte_at_a_time_is_cut_off(
    fal_sim: FalSimulator, slack: FakeSlack, tmp_path: Path
) -> None:
    port = free_port()
    env = falbot_env(fal_sim, slack, tmp_path / "falbot.db", port) | {
        "FALBOT_HTTP_REQUEST_TIMEOUT": "1",
    }
    proc = FalbotProcess(env, cwd=tmp_path)
    try:
        await proc.start()
        slow = await connect(port)
        # Slack's endpoint reads the whole body before it can check Slack's signature.
        slow.writer.write(
            b"POST /slack/events HTTP/1.1\r\nHost: falbot\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"
            b"command=%2Fimagine"
        )
        answer = await asyncio.wait_for(slow.reader.readline(), 15)
        closed = await slow.closed_by_server(within=15)
        slow.close()
        await healthz_seconds(port)
    finally:
        await proc.close()
    assert answer.startswith(b"HTTP/1.1 408")
    assert closed
