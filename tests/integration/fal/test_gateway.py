"""The real fal-client, through FalClientGateway, against the fal simulator: the paths that work."""

from __future__ import annotations

import asyncio
import base64
import logging
import struct
from collections.abc import AsyncIterator
from contextlib import aclosing
from itertools import pairwise

import pytest

from adapters.fal.gateway import FalClientGateway
from adapters.fal.sim.faults import Fault, HttpFault
from adapters.fal.simulator import FalSimulator
from adapters.fal.statuses import sse_data
from core.errors import BotError, ErrorCode
from tests.integration.fal.fixtures import SIM_KEY, fast_gateway
from tests.integration.fal.helpers import STATE_ORDER, boxes, child, follow, image_dims, png

FLUX = "fal-ai/flux/dev"


async def test_image_job_goes_queued_running_completed_then_delivers_pngs(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    fal_sim.hold_queue = fal_sim.hold = True
    fal_sim.queue_ahead = 2
    arguments = {"prompt": "a red fox", "image_size": "landscape_16_9", "num_images": 2}
    request_id = await fal_gateway.submit(FLUX, arguments)
    assert fal_sim.submits == [(FLUX, arguments)]

    statuses = await follow(fal_gateway, fal_sim, FLUX, request_id)

    states = [s.state for s in statuses]
    assert states[0] == "queued" and statuses[0].queue_position == 2
    assert "in_progress" in states and states[-1] == "completed"
    assert states == sorted(states, key=STATE_ORDER.index), "a status never goes back"
    assert all(a != b for a, b in pairwise(statuses)), "no repeats"
    first_running = statuses[states.index("in_progress")]
    assert first_running.logs[:1] == ("Loading the model",)
    done = statuses[-1]
    assert done.logs == tuple(fal_sim.log_lines) and done.error is None
    assert done.inference_s is not None

    output = await fal_gateway.result(FLUX, request_id)
    assert [(i["width"], i["height"]) for i in output["images"]] == [(1024, 576)] * 2
    assert output["has_nsfw_concepts"] == [False, False] and isinstance(output["seed"], int)
    pictures = [await fal_gateway.download(i["url"], max_bytes=5_000_000) for i in output["images"]]
    assert [image_dims(p) for p in pictures] == [("PNG", (1024, 576))] * 2
    assert pictures[0] != pictures[1]

    # submit, one status stream, result: no polling at all
    assert fal_sim.http_by_request[request_id] == {"submit": 1, "stream": 1, "result": 1}


async def test_a_job_that_runs_a_while_costs_at_most_four_fal_requests(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    fal_sim.queue_wait = 0.2
    fal_sim.run_time = 0.6  # fal-client's own watcher would poll ~8 times in this time
    request_id = await fal_gateway.submit("fal-ai/nano-banana", {"prompt": "a lighthouse"})
    async with aclosing(fal_gateway.watch("fal-ai/nano-banana", request_id)) as statuses:
        seen = [s async for s in statuses]
    assert seen[-1].state == "completed"
    assert seen[-1].logs == tuple(fal_sim.log_lines)
    await fal_gateway.result("fal-ai/nano-banana", request_id)
    assert fal_sim.http_requests(request_id) <= 4
    assert fal_sim.http_by_request[request_id]["status"] == 0


async def test_a_job_at_fal_takes_one_connection_the_stream_read_to_its_end(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    """The completed stream is read to the end fal gives it, so its connection goes back to
    the pool and the result's request takes it (a half-read one is closed: a second connect)."""
    fal_sim.run_time = 0.2
    request_id = await fal_gateway.submit("fal-ai/nano-banana", {"prompt": "a lighthouse"})
    async with aclosing(fal_gateway.watch("fal-ai/nano-banana", request_id)) as statuses:
        assert [s async for s in statuses][-1].state == "completed"
    await fal_gateway.result("fal-ai/nano-banana", request_id)
    assert fal_sim.http_by_request[request_id] == {"submit": 1, "stream": 1, "result": 1}
    assert len(fal_sim.queue_connections) == 1


async def test_edit_job_with_an_input_uploaded_through_the_cdn_token_flow(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    source = png(300, 200)
    url = await fal_gateway.upload(source, "image/png")
    assert url.startswith(fal_sim.cdn_url)
    assert fal_sim.http_by_route["token"] == 1 and fal_sim.http_by_route["cdn_upload"] == 1
    assert fal_sim.http_by_route["initiate"] == 0

    endpoint = "fal-ai/nano-banana/edit"
    request_id = await fal_gateway.submit(endpoint, {"prompt": "make it blue", "image_urls": [url]})
    statuses = await follow(fal_gateway, fal_sim, endpoint, request_id)
    assert statuses[-1].state == "completed" and statuses[-1].error is None

    output = await fal_gateway.result(endpoint, request_id)
    (image,) = output["images"]
    assert (image["width"], image["height"]) == (300, 200)
    edited = await fal_gateway.download(image["url"], max_bytes=5_000_000)
    assert image_dims(edited) == ("PNG", (300, 200))
    assert edited != source


async def test_upload_falls_back_to_initiate_and_put_when_the_cdn_fails(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    fal_sim.inject("cdn_upload", HttpFault(status=500))
    source = png(64, 64)
    url = await fal_gateway.upload(source, "image/png")
    assert fal_sim.http_by_route["cdn_upload"] == 1
    assert fal_sim.http_by_route["initiate"] == 1 and fal_sim.http_by_route["put"] == 1
    assert await fal_gateway.download(url, max_bytes=1_000_000) == source


async def test_video_job_delivers_a_real_mp4(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    endpoint = "fal-ai/sora-2/text-to-video"
    arguments = {"prompt": "waves at dusk", "aspect_ratio": "16:9", "duration": 4}
    request_id = await fal_gateway.submit(endpoint, arguments)
    statuses = await follow(fal_gateway, fal_sim, endpoint, request_id)
    assert statuses[-1].state == "completed"

    video = (await fal_gateway.result(endpoint, request_id))["video"]
    assert video["content_type"] == "video/mp4" and video["file_name"].endswith(".mp4")
    data = await fal_gateway.download(video["url"], max_bytes=5_000_000)
    assert data[4:8] == b"ftyp" and len(data) == video["file_size"]
    top = boxes(data)
    assert [kind for kind, _ in top] == [b"ftyp", b"moov", b"mdat"]
    moov = top[1][1]
    stbl = child(moov, b"trak", b"mdia", b"minf", b"stbl")
    assert child(stbl, b"stsd", b"avc1", b"avcC")[0] == 1  # an H.264 configuration record
    sample_count = struct.unpack(">I", child(stbl, b"stsz")[8:12])[0]
    assert sample_count == 4 * fal_sim.video_fps


async def test_upscale_reads_a_data_uri_and_scales_it(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    uri = "data:image/png;base64," + base64.b64encode(png(40, 30)).decode()
    request_id = await fal_gateway.submit("fal-ai/esrgan", {"image_url": uri, "scale": 3})
    await follow(fal_gateway, fal_sim, "fal-ai/esrgan", request_id)
    image = (await fal_gateway.result("fal-ai/esrgan", request_id))["image"]
    assert (image["width"], image["height"]) == (120, 90)
    data = await fal_gateway.download(image["url"], max_bytes=1_000_000)
    assert image_dims(data) == ("PNG", (120, 90))


async def test_watch_polls_when_the_status_stream_is_refused(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    fal_sim.stream_enabled = False
    fal_sim.hold_queue = fal_sim.hold = True
    request_id = await fal_gateway.submit(FLUX, {"prompt": "a moth"})
    statuses = await follow(fal_gateway, fal_sim, FLUX, request_id)
    states = [s.state for s in statuses]
    assert states[0] == "queued" and "in_progress" in states and states[-1] == "completed"
    assert states == sorted(states, key=STATE_ORDER.index)
    calls = fal_sim.http_by_request[request_id]
    assert calls["stream"] == 1 and calls["status"] >= 3


async def test_a_dropped_status_stream_is_resumed(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    fal_sim.inject("stream", HttpFault(drop=True))
    fal_sim.hold_queue = fal_sim.hold = True
    request_id = await fal_gateway.submit(FLUX, {"prompt": "a heron"})
    statuses = await follow(fal_gateway, fal_sim, FLUX, request_id)
    assert statuses[0].state == "queued" and statuses[-1].state == "completed"
    assert all(a != b for a, b in pairwise(statuses))
    calls = fal_sim.http_by_request[request_id]
    assert calls["stream"] == 2 and calls["status"] == 0


async def test_download_is_capped_while_streaming(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    data = png(256, 256, (1, 2, 3))
    url = fal_sim.store_file(data, "image/png", "exact.png")
    assert await fal_gateway.download(url, max_bytes=len(data)) == data
    with pytest.raises(BotError) as caught:
        await fal_gateway.download(url, max_bytes=len(data) - 1)
    assert caught.value.code is ErrorCode.INVALID_INPUT
    for bad in ("file:///etc/passwd", "ftp://127.0.0.1/x.png", "not a url"):
        with pytest.raises(BotError) as caught:
            await fal_gateway.download(bad, max_bytes=1_000)
        assert caught.value.code is ErrorCode.INVALID_INPUT


async def test_download_of_a_missing_output_is_provider_unavailable(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    with pytest.raises(BotError) as caught:
        await fal_gateway.download(fal_sim.file_url("out/nope/0.png"), max_bytes=1_000)
    assert caught.value.code is ErrorCode.PROVIDER_UNAVAILABLE


async def test_the_fal_key_is_never_in_errors_or_logs(
    fal_sim: FalSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BotError] = []
    wrong_key = "wrong-key-9d8e7f6a5b4c"
    for key in (SIM_KEY, wrong_key):
        gateway = fast_gateway(key)
        try:
            fal_sim.fail_next(Fault.validation("bad prompt"))
            try:
                request_id = await gateway.submit(FLUX, {"prompt": "x"})
                await fal_sim.wait_for_state(request_id, "COMPLETED")
                await gateway.result(FLUX, request_id)
            except BotError as exc:
                errors.append(exc)
            fal_sim.inject("submit", HttpFault.rate_limited(), count=5)
            try:
                await gateway.submit(FLUX, {"prompt": "y"})
            except BotError as exc:
                errors.append(exc)
            try:
                await gateway.cancel(FLUX, "no-such-request")
            except BotError as exc:
                errors.append(exc)
        finally:
            await gateway.aclose()
    assert len(errors) == 6
    text = "\n".join(f"{e.message} {e.hint} {e!r} {e.to_dict()}" for e in errors)
    text += "\n" + caplog.text
    assert SIM_KEY not in text and wrong_key not in text


async def test_an_idle_stream_is_reopened_and_never_given_up_for_polling(
    fal_sim: FalSimulator,
) -> None:
    fal_sim.hold_queue = True
    gateway = fast_gateway(stream_idle_timeout=0.05)
    request_id = await gateway.submit(FLUX, {"prompt": "a quiet pond"})
    calls = fal_sim.http_by_request[request_id]

    async def admit_after_idle_reconnects() -> None:
        # more idle timeouts than the failures a stream may have before polling
        await fal_sim.wait_for(lambda: calls["stream"] >= 5)
        fal_sim.admit(request_id)

    admitter = asyncio.create_task(admit_after_idle_reconnects())
    try:
        async with asyncio.timeout(10), aclosing(gateway.watch(FLUX, request_id)) as statuses:
            seen = [status.state async for status in statuses]
        await admitter
    finally:
        admitter.cancel()
        await asyncio.gather(admitter, return_exceptions=True)
        await gateway.aclose()
    assert seen[0] == "queued" and seen[-1] == "completed"
    assert calls["status"] == 0


async def test_watches_past_the_stream_limit_poll(fal_sim: FalSimulator) -> None:
    gateway = fast_gateway(max_streams=0)
    try:
        request_id = await gateway.submit(FLUX, {"prompt": "a crowd"})
        statuses = await follow(gateway, fal_sim, FLUX, request_id)
    finally:
        await gateway.aclose()
    assert statuses[-1].state == "completed"
    assert fal_sim.http_by_request[request_id]["stream"] == 0


async def test_sse_framing_skips_comments_and_joins_data_lines() -> None:
    async def lines() -> AsyncIterator[str]:
        for line in [": keepalive", "", 'data: {"a":', "data: 1}", "", "event: x", "data:2", ""]:
            yield line
        yield "data: cut off"  # no blank line: never dispatched

    assert [d async for d in sse_data(lines())] == ['{"a":\n1}', "2"]


async def test_chaos_hook_faults_are_ridden_out_by_idempotent_downloads(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    flips = iter([True, False])

    def chaos(route: str) -> HttpFault | None:
        return HttpFault(status=503) if route == "cdn_get" and next(flips) else None

    fal_sim.chaos = chaos
    data = png(8, 8)
    url = fal_sim.store_file(data, "image/png")
    assert await fal_gateway.download(url, max_bytes=10_000) == data
    assert fal_sim.http_by_route["cdn_get"] == 2
