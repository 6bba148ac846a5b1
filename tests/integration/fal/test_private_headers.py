"""Private mode at fal: fal-client, through FalClientGateway, sends fal's data-retention
headers, and the simulator records what it was sent."""

from __future__ import annotations

import json

from adapters.fal.gateway import PRIVATE_HEADERS, FalClientGateway
from adapters.fal.simulator import FalSimulator

FLUX = "fal-ai/flux/dev"


async def test_a_private_request_asks_fal_to_keep_neither_payloads_nor_files(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    request_id = await fal_gateway.submit(FLUX, {"prompt": "a fox"}, private=True)

    sent = fal_sim.requests[request_id].fal_headers
    assert sent["x-fal-store-io"] == "0"
    lifecycle = json.loads(sent["x-fal-object-lifecycle-preference"])
    assert lifecycle == {"expiration_duration_seconds": 86400}
    assert {k.lower() for k in PRIVATE_HEADERS} <= sent.keys()


async def test_an_ordinary_request_sends_no_retention_headers(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    request_id = await fal_gateway.submit(FLUX, {"prompt": "a fox"})

    sent = fal_sim.requests[request_id].fal_headers
    assert "x-fal-store-io" not in sent
    assert "x-fal-object-lifecycle-preference" not in sent
