"""`falbot run` with FALBOT_PUBLIC_URL: jobs are submitted with fal's webhook, which the process
takes at /fal/webhook (checked against the JWKS at FALBOT_FAL_JWKS_URL); a forged one changes
nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from adapters.fal.sim.webhooks import signed_headers
from adapters.fal.simulator import FalSimulator
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

USER = "UWEB"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with running_slack((USER,)) as fake:
        yield fake


async def test_jobs_end_from_fals_webhook_and_a_forged_one_changes_nothing(
    fal_sim: FalSimulator, slack: FakeSlack, tmp_path: Path
) -> None:
    db = tmp_path / "falbot.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = falbot_env(fal_sim, slack, db, port) | {
        "FALBOT_PUBLIC_URL": base,
        "FALBOT_FAL_JWKS_URL": fal_sim.jwks_url,
    }
    sender = SignedSender(f"{base}/slack/events", SIGNING_SECRET)
    proc = FalbotProcess(env, cwd=tmp_path)
    try:
        await proc.start()
        body = b'{"request_id": "r-forged", "status": "OK", "payload": {}}'
        forged = signed_headers(Ed25519PrivateKey.generate(), request_id="r-forged", body=body)
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{base}/fal/webhook", data=body, headers=forged) as answer,
        ):
            # Not a request falbot sent: answered so the sender stops, never read or kept.
            assert answer.status == 200
            assert await answer.json() == {"ok": True, "ignored": True}

        form = p.slash_command(
            "/imagine",
            "a webhook at dawn --model flux-schnell",
            team_id=TEAM,
            user_id=USER,
            channel_id=CHANNEL,
            response_url=slack.response_url(),
        )
        assert (await sender.command(form)).status == 200
        (delivery,) = await fal_sim.webhooks.wait_for(1, within=15)
        (job,) = await wait_all_final(db, within=15)
        await proc.terminate(within=10)
    finally:
        await sender.close()
        await proc.close()

    assert delivery.url == f"{base}/fal/webhook" and delivery.status == 200
    assert job["state"] == "delivered"
    calls = fal_sim.http_by_request[job["request_id"]]
    assert calls["stream"] == 0 and calls["status"] == 0 and calls["result"] == 0
    assert json.loads(job["result"])["outputs"]
