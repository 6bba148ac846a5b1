"""fal's user id (`X-Fal-Webhook-User-Id`): learned from the first verified webhook of a request
falbot sent, then every webhook must carry it, even one genuinely signed by fal."""

from __future__ import annotations

import json

import aiohttp

from adapters.fal.sim.webhooks import USER_ID, signed_headers
from adapters.fal.simulator import FalSimulator
from adapters.sqlite.store import SqliteStore
from core.jobs import Actor, JobState
from tests.fakes.asking import Ask, submit
from tests.fakes.reply import RecordingReply
from tests.integration.reliability.conftest import Hooked

ANN = Actor("console", "w1", "ann")


async def test_the_accounts_user_id_is_learned_and_then_required(
    hooked: Hooked, fal_sim: FalSimulator, store: SqliteStore
) -> None:
    assert hooked.receiver.user_id is None  # FALBOT_FAL_USER_ID not set
    first = RecordingReply()
    await submit(hooked.engine, Ask(ANN, "flux-schnell", {"prompt": "one"}), first)
    await first.wait(timeout=10)
    assert first.delivery is not None
    assert hooked.receiver.user_id == USER_ID  # from fal's verified webhook

    fal_sim.hold = True
    second = RecordingReply()
    job = await submit(hooked.engine, Ask(ANN, "flux-schnell", {"prompt": "two"}), second)
    await fal_sim.wait_for_submits(2)
    request_id = list(fal_sim.requests)[-1]
    await fal_sim.wait_for_state(request_id, "IN_PROGRESS")
    output = {"images": [{"url": "https://evil.example/x.png", "width": 1, "height": 1}]}
    body = json.dumps({"request_id": request_id, "status": "OK", "payload": output}).encode()
    # fal's own key, but for a request of another account (a leaked or guessed request id).
    headers = signed_headers(fal_sim.webhooks.key, request_id=request_id, body=body, user_id="u-2")
    async with (
        aiohttp.ClientSession() as session,
        session.post(hooked.url, data=body, headers=headers) as answer,
    ):
        assert answer.status == 401
        assert (await answer.json())["error"] == "sent for another fal account"

    stored = await store.get_job(job.id)
    assert stored is not None and stored.state is JobState.SUBMITTED
    fal_sim.release()
    await second.wait(timeout=10)
    assert second.delivery is not None
    assert "evil" not in json.dumps(second.delivery.result.outputs[0].to_dict())
