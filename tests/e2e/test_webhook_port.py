"""`/fal/webhook` on `falbot run`'s public port: nothing is read before it can be judged.

Unsigned bodies are refused on their headers, before a byte of the body is read; a request
falbot did not send is answered 200 unread; bodies that must be read are capped in size, in
time and in number at once; fal's user id is checked against the account's."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.fal.sim.webhooks import USER_ID, signed_headers
from adapters.fal.simulator import FalSimulator
from tests.e2e.port_support import RawConnection, close_all, connect, rss_bytes
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

USER = "UHOOK"
MiB = 1024 * 1024


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with running_slack((USER,)) as fake:
        yield fake


def head(length: int, headers: dict[str, str] | None = None) -> bytes:
    lines = [
        "POST /fal/webhook HTTP/1.1",
        "Host: falbot",
        "Content-Type: application/json",
        f"Content-Length: {length}",
    ]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items() if k != "Content-Type"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def stalled_post(
    port: int, *, length: int, headers: dict[str, str] | None = None, sent: int = 1024
) -> RawConnection:
    """A webhook POST that announces `length` bytes, sends `sent` of them and stalls."""
    connection = await connect(port)
    connection.writer.write(head(length, headers) + b"{" + b" " * (sent - 1))
    await connection.writer.drain()
    return connection


async def status_of(connection: RawConnection, *, within: float) -> tuple[int, str]:
    """The status and body the server answered, or (0, "") if none came in time."""
    try:
        async with asyncio.timeout(within):
            status_line = await connection.reader.readline()
            length = 0
            while (line := await connection.reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            body = await connection.reader.readexactly(length)
    except TimeoutError:
        return 0, ""
    return int(status_line.split()[1]), body.decode()


def well_formed(request_id: str, *, user_id: str = USER_ID) -> dict[str, str]:
    """Signature headers of the right form and a fresh time; the signature is not fal's."""
    return {
        "X-Fal-Webhook-Request-Id": request_id,
        "X-Fal-Webhook-User-Id": user_id,
        "X-Fal-Webhook-Timestamp": str(int(time.time())),
        "X-Fal-Webhook-Signature": "ab" * 64,
    }


async def start_falbot(
    fal_sim: FalSimulator, slack: FakeSlack, tmp_path: Path, **extra: str
) -> tuple[FalbotProcess, int]:
    port = free_port()
    env = falbot_env(fal_sim, slack, tmp_path / "falbot.db", port) | {
        "FALBOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "FALBOT_FAL_JWKS_URL": fal_sim.jwks_url,
        **extra,
    }
    proc = FalbotProcess(env, cwd=tmp_path)
    await proc.start()
    return proc, port


async def test_unsigned_webhook_bodies_are_refused_before_they_are_read(
    fal_sim: FalSimulator, slack: FakeSlack, tmp_path: Path
) -> None:
    proc, port = await start_falbot(fal_sim, slack, tmp_path)
    held: list[RawConnection] = []
    try:
        before = rss_bytes(proc.pid)
        held = [await stalled_post(port, length=8 * MiB - 1, sent=64 * 1024) for _ in range(48)]
        answers = await asyncio.gather(*(status_of(c, within=5) for c in held))
        grown = rss_bytes(proc.pid) - before
    finally:
        close_all(held)
        await proc.close()
    assert {status for status, _ in answers} == {401}, answers[:3]
    assert all("missing signature headers" in body for _, body in answers)
    assert grown < 20 * MiB, grown  # nothing of the 48 × 8 MiB announced is kept


async def test_webhook_bodies_are_read_only_for_awaited_requests_capped_in_size_time_and_number(
    fal_sim: FalSimulator, slack: FakeSlack, tmp_path: Path
) -> None:
    fal_sim.hold = True  # the job stays at fal until released: falbot waits for its webhook
    proc, port = await start_falbot(fal_sim, slack, tmp_path, FALBOT_FAL_USER_ID=USER_ID)
    sender = SignedSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET)
    reading: list[RawConnection] = []
    try:
        form = p.slash_command(
            "/imagine",
            "a harbour --model flux-schnell",
            team_id=TEAM,
            user_id=USER,
            channel_id=CHANNEL,
            response_url=slack.response_url(),
        )
        assert (await sender.command(form)).status == 200
        await fal_sim.wait_for_submits(1, within=15)
        ours = next(iter(fal_sim.requests))

        # Another fal account's request, genuinely signed: answered 200, its body never read.
        body = json.dumps({"request_id": "theirs", "status": "OK", "payload": {}}).encode()
        theirs = signed_headers(fal_sim.webhooks.key, request_id="theirs", body=body)
        foreign = await stalled_post(port, length=4096, headers=theirs)
        # Our request, but sent for another fal user: refused on its headers.
        other_user = await stalled_post(port, length=4096, headers=well_formed(ours, user_id="u2"))
        # Our request, announcing more than a webhook ever holds.
        too_big = await stalled_post(port, length=2 * MiB, headers=well_formed(ours))
        quick = [await status_of(c, within=5) for c in (foreign, other_user, too_big)]
        close_all([foreign, other_user, too_big])

        # Bodies that must be read to be judged: 16 at once; the rest told to come back.
        reading = [
            await stalled_post(port, length=512 * 1024, headers=well_formed(ours))
            for _ in range(20)
        ]
        answers = await asyncio.gather(*(status_of(c, within=5) for c in reading))
        turned_away = [a for a in answers if a[0] == 503]
        slow = [
            await status_of(c, within=20)
            for c, a in zip(reading, answers, strict=True)
            if a[0] == 0
        ]
        close_all(reading)

        fal_sim.release()  # fal's genuine webhook now ends the job
        (job,) = await wait_all_final(tmp_path / "falbot.db", within=20)
        (delivery,) = await fal_sim.webhooks.wait_for(1, within=10)
    finally:
        close_all(reading)
        await sender.close()
        await proc.close()

    assert quick[0][0] == 200 and json.loads(quick[0][1]) == {"ok": True, "ignored": True}
    assert quick[1] == (401, json.dumps({"ok": False, "error": "sent for another fal account"}))
    assert quick[2][0] == 413
    assert len(turned_away) == 4 and len(slow) == 16
    assert {status for status, _ in slow} == {408}  # the 10 s deadline, not fal's 2 h of retries
    assert delivery.status == 200 and job["state"] == "delivered"
