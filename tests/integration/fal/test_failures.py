"""Every fal failure class, through the real fal-client, mapped to the right BotError."""

from __future__ import annotations

from contextlib import aclosing

import pytest

from adapters.fal.errors import fal_bills
from adapters.fal.gateway import FalClientGateway
from adapters.fal.sim.faults import Fault, HttpFault
from adapters.fal.simulator import FalSimulator
from core.errors import BotError, ErrorCode
from tests.integration.fal.fixtures import fast_gateway
from tests.integration.fal.helpers import follow

ENDPOINT = "fal-ai/nano-banana"


async def _fail_with(
    fault: Fault, sim: FalSimulator, gateway: FalClientGateway
) -> tuple[str, BotError, str | None]:
    """Run one request that ends in `fault`; its id, the BotError, and the status's error type."""
    sim.fail_next(fault)
    request_id = await gateway.submit(ENDPOINT, {"prompt": "a cat"})
    statuses = await follow(gateway, sim, ENDPOINT, request_id)
    assert statuses[-1].state == "completed", "fal never says FAILED"
    with pytest.raises(BotError) as caught:
        await gateway.result(ENDPOINT, request_id)
    return request_id, caught.value, statuses[-1].error_type


@pytest.mark.parametrize(
    ("fault", "code", "words"),
    [
        (
            Fault.validation("String should have at most 2000 characters", loc=("body", "prompt")),
            ErrorCode.PROVIDER_REJECTED,
            "prompt: String should have at most 2000 characters",
        ),
        (Fault.content_policy(), ErrorCode.PROVIDER_REJECTED, "content policy"),
        (Fault.server_error("runner_server_error"), ErrorCode.PROVIDER_UNAVAILABLE, ""),
        (Fault.server_error("internal_error"), ErrorCode.PROVIDER_UNAVAILABLE, ""),
        (Fault.server_error("runner_scheduling_failure"), ErrorCode.PROVIDER_UNAVAILABLE, ""),
        (Fault.server_error("runner_incomplete_response"), ErrorCode.PROVIDER_UNAVAILABLE, ""),
        (Fault.timeout("request_timeout"), ErrorCode.TIMEOUT, ""),
        (Fault.timeout("startup_timeout"), ErrorCode.TIMEOUT, ""),
    ],
    ids=lambda v: getattr(v, "error_type", None) or getattr(v, "status", None) or str(v)[:20],
)
async def test_a_failed_request_raises_the_mapped_error_and_is_not_billed(
    fal_sim: FalSimulator,
    fal_gateway: FalClientGateway,
    fault: Fault,
    code: ErrorCode,
    words: str,
) -> None:
    request_id, error, _ = await _fail_with(fault, fal_sim, fal_gateway)
    assert error.code is code, error
    assert error.request_id == request_id
    assert words.lower() in error.message.lower()
    assert error.hint
    assert not fal_bills(error)
    # fal's own error answers are final: the result is fetched once, not retried
    assert fal_sim.http_by_request[request_id]["result"] == 1


async def test_completed_with_an_error_shows_in_the_status_and_fails_the_result(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    request_id, error, error_type = await _fail_with(
        Fault.completed_error("runner_server_error", detail="CUDA out of memory"),
        fal_sim,
        fal_gateway,
    )
    assert error_type == "runner_server_error"
    assert error.code is ErrorCode.PROVIDER_UNAVAILABLE and error.request_id == request_id
    assert not fal_bills(error)


async def test_an_unreadable_input_url_is_a_rejection_naming_the_field(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    endpoint = "fal-ai/nano-banana/edit"
    arguments = {"prompt": "blue", "image_urls": ["https://example.invalid/cat.png"]}
    request_id = await fal_gateway.submit(endpoint, arguments)
    await follow(fal_gateway, fal_sim, endpoint, request_id)
    with pytest.raises(BotError) as caught:
        await fal_gateway.result(endpoint, request_id)
    assert caught.value.code is ErrorCode.PROVIDER_REJECTED
    assert "image_urls.0" in caught.value.message


async def test_a_result_behind_an_ingress_hiccup_is_fetched_again(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    request_id = await fal_gateway.submit(ENDPOINT, {"prompt": "an owl"})
    await fal_sim.wait_for_state(request_id, "COMPLETED")
    fal_sim.inject("result", HttpFault.ingress(502))
    output = await fal_gateway.result(ENDPOINT, request_id)
    assert output["images"]
    assert fal_sim.http_by_request[request_id]["result"] == 2


async def test_a_result_that_keeps_failing_gives_up_as_unavailable(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    request_id = await fal_gateway.submit(ENDPOINT, {"prompt": "an owl"})
    await fal_sim.wait_for_state(request_id, "COMPLETED")
    fal_sim.inject("result", HttpFault.ingress(503), count=100)
    with pytest.raises(BotError) as caught:
        await fal_gateway.result(ENDPOINT, request_id)
    assert caught.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert fal_sim.http_by_request[request_id]["result"] == 4


# -- submit -----------------------------------------------------------------------------------


async def test_a_submit_refused_with_422_queues_nothing(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    fault = Fault.validation("Unknown field `styel`", loc=("body", "styel"), at_submit=True)
    fal_sim.fail_next(fault)
    with pytest.raises(BotError) as caught:
        await fal_gateway.submit(ENDPOINT, {"prompt": "x", "styel": 1})
    assert caught.value.code is ErrorCode.PROVIDER_REJECTED
    assert "styel: Unknown field" in caught.value.message
    assert fal_sim.submits == []


async def test_a_submit_answered_5xx_is_not_sent_again(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    fal_sim.fail_next(Fault.server_error("internal_error", at_submit=True))
    with pytest.raises(BotError) as caught:
        await fal_gateway.submit(ENDPOINT, {"prompt": "x"})
    assert caught.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert fal_sim.http_by_route["submit"] == 1


async def test_a_rate_limited_submit_is_retried_a_bounded_number_of_times(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    fal_sim.inject("submit", HttpFault.rate_limited(), count=100)
    with pytest.raises(BotError) as caught:
        await fal_gateway.submit(ENDPOINT, {"prompt": "x"})
    assert caught.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert fal_sim.http_by_route["submit"] == 3  # fal-client alone would try 10 times
    assert fal_sim.submits == []


async def test_a_submit_rate_limited_once_goes_through_once(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    fal_sim.inject("submit", HttpFault.rate_limited())
    request_id = await fal_gateway.submit(ENDPOINT, {"prompt": "x"})
    assert fal_sim.http_by_route["submit"] == 2
    assert [r.id for r in fal_sim.requests.values()] == [request_id]


async def test_a_submit_whose_connection_drops_is_never_sent_again(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    fal_sim.inject("submit", HttpFault(drop=True))
    with pytest.raises(BotError) as caught:
        await fal_gateway.submit(ENDPOINT, {"prompt": "x"})
    assert caught.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert "may or may not" in caught.value.message
    assert fal_sim.http_by_route["submit"] == 1  # fal-client alone would resend it


async def test_a_wrong_key_is_refused_without_showing_it(fal_sim: FalSimulator) -> None:
    gateway = fast_gateway("not-the-key-31337")
    try:
        with pytest.raises(BotError) as caught:
            await gateway.submit(ENDPOINT, {"prompt": "x"})
    finally:
        await gateway.aclose()
    assert caught.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert "credentials" in caught.value.message
    assert "31337" not in str(caught.value.to_dict())


# -- cancel and unknown requests --------------------------------------------------------------


async def test_cancelling_a_queued_request(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    fal_sim.hold_queue = True
    request_id = await fal_gateway.submit(ENDPOINT, {"prompt": "x"})
    assert (await fal_gateway.status(ENDPOINT, request_id)).state == "queued"
    assert await fal_gateway.cancel(ENDPOINT, request_id) is True
    assert fal_sim.requests[request_id].cancelled_while == "IN_QUEUE"
    status = await fal_gateway.status(ENDPOINT, request_id)
    assert status.state == "completed"
    with pytest.raises(BotError) as caught:
        await fal_gateway.result(ENDPOINT, request_id)
    assert caught.value.code is ErrorCode.CANCELLED
    assert not fal_bills(caught.value, was_running=False)
    assert fal_bills(caught.value, was_running=True)
    assert await fal_gateway.cancel(ENDPOINT, request_id) is False


async def test_cancelling_a_running_request(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    fal_sim.hold = True
    request_id = await fal_gateway.submit(ENDPOINT, {"prompt": "x"})
    await fal_sim.wait_for_state(request_id, "IN_PROGRESS")
    assert await fal_gateway.cancel(ENDPOINT, request_id) is True
    assert fal_sim.requests[request_id].cancelled_while == "IN_PROGRESS"
    assert fal_sim.in_flight == 0


async def test_cancelling_a_completed_request_says_so(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    request_id = await fal_gateway.submit(ENDPOINT, {"prompt": "x"})
    await fal_sim.wait_for_state(request_id, "COMPLETED")
    assert await fal_gateway.cancel(ENDPOINT, request_id) is False
    assert (await fal_gateway.result(ENDPOINT, request_id))["images"]


async def test_an_unknown_request_is_not_found_everywhere(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    unknown = "00000000-0000-0000-0000-000000000000"
    for call in (fal_gateway.status, fal_gateway.result, fal_gateway.cancel):
        with pytest.raises(BotError) as caught:
            await call(ENDPOINT, unknown)
        assert caught.value.code is ErrorCode.NOT_FOUND, call
    with pytest.raises(BotError) as caught:
        async with aclosing(fal_gateway.watch(ENDPOINT, unknown)) as statuses:
            async for _ in statuses:
                pass
    assert caught.value.code is ErrorCode.NOT_FOUND
