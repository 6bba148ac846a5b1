"""fal webhooks end to end: the simulator signs and POSTs them, the receiver checks them against
the simulator's JWKS, the engine ends jobs from them. Forged, stale and replayed webhooks change
nothing; a lost one falls back to watching the status."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from adapters.fal.sim.webhooks import signed_headers
from adapters.fal.simulator import FalSimulator, Fault
from adapters.fal.webhook import JwksKeys, WebhookRejected, WebhookVerifier, outcome_from
from adapters.sqlite.store import SqliteStore
from core.errors import ErrorCode
from core.jobs import Actor, Job, JobState
from core.ports import UsageFilter
from tests.fakes.asking import Ask, submit
from tests.fakes.reply import RecordingReply
from tests.integration.reliability.conftest import Hooked

ANN = Actor("console", "w1", "ann")
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def imagine(prompt: str = "a lighthouse at dusk") -> Ask:
    return Ask(ANN, "flux-schnell", {"prompt": prompt})


async def post(url: str, body: bytes, headers: Mapping[str, str]) -> int:
    return (await post_for_reason(url, body, headers))[0]


async def post_for_reason(url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, str]:
    """(the HTTP status, the receiver's reason for a refusal)."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as answer,
    ):
        return answer.status, str((await answer.json()).get("error", ""))


async def job_now(store: SqliteStore, job: Job) -> Job:
    found = await store.get_job(job.id)
    assert found is not None
    return found


async def running_job(hooked: Hooked, fal_sim: FalSimulator) -> tuple[Job, RecordingReply, str]:
    """A job held running at fal: (the job, its reply, fal's request id)."""
    fal_sim.hold = True
    reply = RecordingReply()
    job = await submit(hooked.engine, imagine(), reply)
    await fal_sim.wait_for_submits(1)
    request_id = next(iter(fal_sim.requests))
    await fal_sim.wait_for_state(request_id, "IN_PROGRESS")
    return job, reply, request_id


async def test_a_job_ends_from_its_signed_webhook_without_watching_or_fetching(
    hooked: Hooked, fal_sim: FalSimulator, store: SqliteStore
) -> None:
    reply = RecordingReply()
    job = await submit(hooked.engine, imagine(), reply)
    await reply.wait(timeout=10)

    assert reply.delivery is not None, reply.error
    (delivery,) = await fal_sim.webhooks.wait_for(1)
    assert delivery.status == 200
    request_id = (await job_now(store, job)).request_id
    assert request_id is not None
    assert fal_sim.requests[request_id].webhook_url == hooked.url  # submitted with fal_webhook
    calls = fal_sim.http_by_request[request_id]
    assert calls["result"] == 0 and calls["stream"] == 0 and calls["status"] == 0
    output = fal_sim.requests[request_id].output
    assert output is not None
    assert reply.delivery.result.outputs[0].url == output["images"][0]["url"]
    assert (await job_now(store, job)).state is JobState.DELIVERED


async def test_forged_and_stale_webhooks_are_refused_and_change_nothing(
    hooked: Hooked, fal_sim: FalSimulator, store: SqliteStore
) -> None:
    job, reply, request_id = await running_job(hooked, fal_sim)
    forged_output = {
        "images": [{"url": "https://evil.example/x.png", "width": 1, "height": 1}],
        "seed": 1,
    }
    body = json.dumps(
        {
            "request_id": request_id,
            "gateway_request_id": request_id,
            "status": "OK",
            "payload": forged_output,
        }
    ).encode()
    elsewhere = body.replace(request_id.encode(), b"someone-else")
    stranger = Ed25519PrivateKey.generate()  # a key fal never published
    real = fal_sim.webhooks.key
    now = int(time.time())
    no_key, stale = "signature matches no fal key", "timestamp too far from now"
    attempts: list[tuple[str, bytes, dict[str, str]]] = [
        (no_key, body, signed_headers(stranger, request_id=request_id, body=body)),
        (stale, body, signed_headers(real, request_id=request_id, body=body, timestamp=now - 301)),
        (stale, body, signed_headers(real, request_id=request_id, body=body, timestamp=now + 301)),
        (  # the body changed after it was signed
            no_key,
            body.replace(b"evil", b"evi1"),
            signed_headers(real, request_id=request_id, body=body),
        ),
        (  # genuinely signed for this request, over a body that names another one
            "the body names another request",
            elsewhere,
            signed_headers(real, request_id=request_id, body=elsewhere),
        ),
        ("missing signature headers", body, {"Content-Type": "application/json"}),
    ]
    zeros = signed_headers(real, request_id=request_id, body=body)
    zeros["X-Fal-Webhook-Signature"] = "00" * 64
    attempts.append((no_key, body, zeros))
    garbled = dict(zeros, **{"X-Fal-Webhook-Signature": "not hex"})
    attempts.append(("malformed signature", body, garbled))

    for reason, payload, headers in attempts:
        assert await post_for_reason(hooked.url, payload, headers) == (401, reason)

    still = await job_now(store, job)
    assert still.state is JobState.SUBMITTED and still.result is None
    assert not reply.ended.is_set()
    assert await store.ledger(UsageFilter("w1", LONG_AGO)) == []

    fal_sim.release()  # the genuine webhook now arrives and ends the job with fal's real output
    await reply.wait(timeout=10)
    assert reply.delivery is not None
    assert "evil" not in json.dumps(reply.delivery.result.outputs[0].to_dict())


async def test_a_replayed_webhook_changes_nothing_the_second_time(
    hooked: Hooked, fal_sim: FalSimulator, store: SqliteStore
) -> None:
    reply = RecordingReply()
    job = await submit(hooked.engine, imagine(), reply)
    await reply.wait(timeout=10)
    (first,) = await fal_sim.webhooks.wait_for(1)
    done = await job_now(store, job)
    ledger = await store.ledger(UsageFilter("w1", LONG_AGO))
    level = (await hooked.engine.quota(ANN)).level

    assert await post(first.url, first.body, first.headers) == 200  # answered, so fal stops
    assert await post(first.url, first.body, first.headers) == 200

    assert await job_now(store, job) == done
    assert await store.ledger(UsageFilter("w1", LONG_AGO)) == ledger
    assert len(ledger) == 1
    assert (await hooked.engine.quota(ANN)).level == level


async def test_fal_retrying_a_delivery_ends_the_job_once(
    hooked: Hooked, fal_sim: FalSimulator, store: SqliteStore
) -> None:
    fal_sim.webhooks.repeat = 3  # fal sends it again when it did not hear back in time
    reply = RecordingReply()
    job = await submit(hooked.engine, imagine(), reply)
    await reply.wait(timeout=10)
    deliveries = await fal_sim.webhooks.wait_for(3)
    assert [d.status for d in deliveries] == [200, 200, 200]
    assert (await job_now(store, job)).state is JobState.DELIVERED
    assert len(await store.ledger(UsageFilter("w1", LONG_AGO))) == 1


async def test_an_error_webhook_fails_the_job_with_credits_returned(
    hooked: Hooked, fal_sim: FalSimulator, store: SqliteStore
) -> None:
    before = (await hooked.engine.quota(ANN)).level
    fal_sim.fail_next(Fault.content_policy())
    reply = RecordingReply()
    job = await submit(hooked.engine, imagine("something fal refuses"), reply)
    await reply.wait(timeout=10)

    assert reply.error is not None and reply.error.code is ErrorCode.PROVIDER_REJECTED
    assert "content policy" in reply.error.message
    assert reply.credits_returned is True
    request_id = (await job_now(store, job)).request_id
    assert request_id is not None and fal_sim.http_by_request[request_id]["result"] == 0
    assert (await hooked.engine.quota(ANN)).level == before


@pytest.mark.parametrize("webhook_wait", [0.5])
async def test_a_lost_webhook_falls_back_to_watching_the_status(
    hooked: Hooked, fal_sim: FalSimulator, store: SqliteStore
) -> None:
    fal_sim.webhooks.drop = True
    reply = RecordingReply()
    job = await submit(hooked.engine, imagine(), reply)
    await reply.wait(timeout=10)

    assert reply.delivery is not None
    request_id = (await job_now(store, job)).request_id
    assert request_id is not None
    assert fal_sim.http_by_request[request_id]["stream"] >= 1  # watched after the wait
    assert fal_sim.http_by_request[request_id]["result"] == 1
    assert fal_sim.webhooks.deliveries == []


async def test_the_keys_are_fetched_once_and_kept() -> None:
    fal_sim = FalSimulator()
    await fal_sim.start()
    moment = [0.0]
    keys = JwksKeys(fal_sim.jwks_url, clock=lambda: moment[0])
    verifier = WebhookVerifier(keys)
    try:
        for n in range(3):
            body = json.dumps({"request_id": f"r{n}"}).encode()
            headers = signed_headers(fal_sim.webhooks.key, request_id=f"r{n}", body=body)
            assert await verifier.verify(headers, body) == f"r{n}"
        assert fal_sim.webhooks.jwks_fetches == 1
        moment[0] = 24 * 3600.0  # a day later: fetched again
        await verifier.verify(headers, body)
        assert fal_sim.webhooks.jwks_fetches == 2
    finally:
        await keys.aclose()
        await fal_sim.close()


async def test_no_keys_to_be_had_is_a_503_so_fal_tries_again() -> None:
    fal_sim = FalSimulator()
    await fal_sim.start()
    url = fal_sim.jwks_url
    await fal_sim.close()  # nothing listens there any more
    keys = JwksKeys(url)
    body = b'{"request_id": "r1"}'
    headers = signed_headers(Ed25519PrivateKey.generate(), request_id="r1", body=body)
    try:
        with pytest.raises(WebhookRejected) as refused:
            await WebhookVerifier(keys).verify(headers, body)
        assert refused.value.status == 503
    finally:
        await keys.aclose()


def test_a_payload_fal_could_not_include_means_fetching_the_result() -> None:
    outcome = outcome_from({"status": "OK", "payload": None, "payload_error": "too big"}, "r1")
    assert outcome.data is None and outcome.error is None
    failed = outcome_from(
        {
            "status": "ERROR",
            "error": "Invalid status code: 504",
            "payload": {"detail": "Request timed out", "error_type": "request_timeout"},
        },
        "r2",
    )
    assert failed.error is not None and failed.error.code is ErrorCode.TIMEOUT
    assert failed.error.request_id == "r2"
    with pytest.raises(WebhookRejected):
        outcome_from({"status": "MAYBE"}, "r3")
