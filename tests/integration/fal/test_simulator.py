"""The simulator speaks fal's protocol: to fal-client's own flow, over raw HTTP, in its files."""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import fal_client
import httpx
import pytest
from fal_client import Completed, InProgress, Queued

from adapters.fal.gateway import FalClientGateway
from adapters.fal.sim.kinds import Kind
from adapters.fal.sim.media import image_size
from adapters.fal.sim.mp4 import tiny_mp4
from adapters.fal.sim.outputs import InputError, plan
from adapters.fal.sim.state import SimRequest
from adapters.fal.simulator import FalSimulator
from tests.integration.fal.fixtures import SIM_KEY, running_fal_simulator
from tests.integration.fal.helpers import boxes, child, png


async def _close_client(client: fal_client.AsyncClient) -> None:
    handle = await client.get_handle("fal-ai/flux", "-")
    await handle.client.aclose()


async def test_fal_clients_own_subscribe_flow_works_against_it(fal_sim: FalSimulator) -> None:
    fal_sim.hold_queue = fal_sim.hold = True
    seen: list[fal_client.Status] = []

    def on_update(status: fal_client.Status) -> None:
        seen.append(status)
        if isinstance(status, Queued):
            fal_sim.admit()
        elif isinstance(status, InProgress):
            fal_sim.release()

    client = fal_client.AsyncClient(key=SIM_KEY)
    try:
        async with asyncio.timeout(10):
            output = await client.subscribe(
                "fal-ai/flux/schnell",
                {"prompt": "a fish", "image_size": "square"},
                with_logs=True,
                interval=0.01,
                on_queue_update=on_update,
            )
    finally:
        await _close_client(client)
    assert isinstance(seen[0], Queued) and seen[0].position == 0
    assert any(isinstance(s, InProgress) and s.logs for s in seen)
    assert isinstance(seen[-1], Completed) and seen[-1].metrics["inference_time"] >= 0
    assert output["images"][0]["width"] == 512


async def test_status_logs_are_null_unless_asked_for(fal_sim: FalSimulator) -> None:
    fal_sim.hold = True
    client = fal_client.AsyncClient(key=SIM_KEY)
    try:
        handle = await client.submit("fal-ai/flux/dev", {"prompt": "x"})
        await fal_sim.wait_for_state(handle.request_id, "IN_PROGRESS")
        without = await client.status("fal-ai/flux/dev", handle.request_id, with_logs=False)
        with_logs = await client.status("fal-ai/flux/dev", handle.request_id, with_logs=True)
    finally:
        await _close_client(client)
    assert isinstance(without, InProgress) and without.logs is None
    assert isinstance(with_logs, InProgress) and with_logs.logs
    assert {"message", "level", "source", "timestamp"} <= set(with_logs.logs[0])


async def test_a_wrong_key_gets_401(fal_sim: FalSimulator) -> None:
    client = fal_client.AsyncClient(key="nope")
    try:
        with pytest.raises(fal_client.FalClientHTTPError) as caught:
            await client.submit("fal-ai/flux/dev", {"prompt": "x"})
    finally:
        await _close_client(client)
    assert caught.value.status_code == 401
    assert fal_sim.submits == []


async def test_raw_queue_protocol(fal_sim: FalSimulator) -> None:
    fal_sim.hold_queue = fal_sim.hold = True
    headers = {"Authorization": f"Key {SIM_KEY}"}
    async with httpx.AsyncClient(headers=headers, timeout=5) as http:
        answer = await http.post(
            f"{fal_sim.queue_url}/fal-ai/flux/dev",
            params={"fal_webhook": "https://example.com/hook"},
            json={"prompt": "x"},
        )
        assert answer.status_code == 200
        body = answer.json()
        request_id = body["request_id"]
        base = f"{fal_sim.queue_url}/fal-ai/flux/requests/{request_id}"
        assert body["response_url"] == base and body["status_url"] == f"{base}/status"
        assert body["cancel_url"] == f"{base}/cancel" and body["queue_position"] == 0
        assert fal_sim.requests[request_id].webhook_url == "https://example.com/hook"

        queued = await http.get(f"{base}/status", params={"logs": "1"})
        assert queued.status_code == 202
        assert queued.json()["status"] == "IN_QUEUE" and queued.json()["queue_position"] == 0

        fal_sim.admit(request_id)
        await fal_sim.wait_for_state(request_id, "IN_PROGRESS")
        running = (await http.get(f"{base}/status", params={"logs": "0"})).json()
        assert running["status"] == "IN_PROGRESS" and "logs" in running and running["logs"] is None

        early = await http.get(base)
        assert early.status_code == 400

        fal_sim.release(request_id)
        await fal_sim.wait_for_state(request_id, "COMPLETED")
        done = await http.get(f"{base}/status", params={"logs": "true"})
        assert done.status_code == 200
        assert done.json()["status"] == "COMPLETED" and "inference_time" in done.json()["metrics"]
        assert len(done.json()["logs"]) == len(fal_sim.log_lines)

        result = await http.get(base)
        assert result.status_code == 200 and result.headers["x-fal-request-id"] == request_id

        other_app = await http.get(f"{fal_sim.queue_url}/fal-ai/other/requests/{request_id}/status")
        assert other_app.status_code == 404
        cancelled = await http.put(f"{base}/cancel")
        assert cancelled.status_code == 400 and cancelled.json()["status"] == "ALREADY_COMPLETED"

        no_token = await http.post(f"{fal_sim.cdn_url}/files/upload", content=b"x")
        assert no_token.status_code == 401


async def test_status_stream_sends_each_change_and_closes_after_completed(
    fal_sim: FalSimulator,
) -> None:
    fal_sim.hold_queue = fal_sim.hold = True
    headers = {"Authorization": f"Key {SIM_KEY}"}
    async with httpx.AsyncClient(headers=headers, timeout=5) as http:
        answer = await http.post(f"{fal_sim.queue_url}/fal-ai/flux/dev", json={"prompt": "x"})
        request_id = answer.json()["request_id"]
        url = f"{fal_sim.queue_url}/fal-ai/flux/requests/{request_id}/status/stream"
        events: list[str] = []
        async with asyncio.timeout(10), http.stream("GET", url, params={"logs": "1"}) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            async for line in stream.aiter_lines():
                if not line.startswith("data: "):
                    continue
                events.append(line)
                if '"IN_QUEUE"' in line:
                    fal_sim.admit(request_id)
                elif '"IN_PROGRESS"' in line:
                    fal_sim.release(request_id)
    assert '"IN_QUEUE"' in events[0] and '"COMPLETED"' in events[-1]
    assert any('"IN_PROGRESS"' in e for e in events)


async def test_max_running_queues_the_rest_with_real_positions(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    fal_sim.max_running = 1
    fal_sim.hold = True
    ids = [await fal_gateway.submit("fal-ai/flux/dev", {"prompt": f"p{i}"}) for i in range(3)]
    await fal_sim.wait_for_state(ids[0], "IN_PROGRESS")
    positions = [(await fal_gateway.status("fal-ai/flux/dev", i)).queue_position for i in ids[1:]]
    assert positions == [0, 1]
    assert fal_sim.in_flight == 3 and fal_sim.peak_in_flight == 3 and fal_sim.running == 1
    fal_sim.release(ids[0])
    await fal_sim.wait_for_state(ids[1], "IN_PROGRESS")
    assert fal_sim.requests[ids[0]].state == "COMPLETED" and fal_sim.running == 1
    fal_sim.hold = False
    await fal_sim.wait_for(lambda: fal_sim.in_flight == 0)
    assert fal_sim.peak_in_flight == 3


async def test_on_completed_callbacks_see_each_finished_request(
    fal_sim: FalSimulator, fal_gateway: FalClientGateway
) -> None:
    finished: asyncio.Queue[SimRequest] = asyncio.Queue()

    async def record(req: SimRequest) -> None:
        await finished.put(req)

    fal_sim.on_completed.append(record)
    request_id = await fal_gateway.submit("fal-ai/flux/dev", {"prompt": "x"})
    req = await asyncio.wait_for(finished.get(), 5)
    assert req.id == request_id and req.output is not None and req.fault is None


async def test_close_ends_open_streams_and_held_requests() -> None:
    async with running_fal_simulator() as sim:
        sim.hold = True
        headers = {"Authorization": f"Key {SIM_KEY}"}
        async with httpx.AsyncClient(headers=headers, timeout=5) as http:
            answer = await http.post(f"{sim.queue_url}/fal-ai/flux/dev", json={"prompt": "x"})
            request_id = answer.json()["request_id"]
            url = f"{sim.queue_url}/fal-ai/flux/requests/{request_id}/status/stream"
            async with asyncio.timeout(10), http.stream("GET", url) as stream:
                lines = stream.aiter_lines()
                assert (await anext(lines)).startswith("data: ")
                await sim.close()
                rest = [line async for line in lines]
    assert not any("COMPLETED" in line for line in rest)
    assert sim.requests[request_id].state != "COMPLETED"


# -- outputs (pure) ---------------------------------------------------------------------------


def _plan(kind: Kind, arguments: dict[str, Any], request_id: str = "r1") -> dict[str, Any]:
    def fetch(url: str) -> bytes:
        if url == "mem://in":
            return png(300, 200)
        raise ValueError(url)

    output, _ = plan(
        kind,
        arguments,
        request_id=request_id,
        fetch=fetch,
        url_for=lambda name: f"mem://{name}",
    )
    return output


@pytest.mark.parametrize(
    ("arguments", "size"),
    [
        ({"image_size": "square_hd"}, (1024, 1024)),
        ({"image_size": "portrait_16_9"}, (576, 1024)),
        ({"image_size": {"width": 1344, "height": 576}}, (1344, 576)),
        ({"image_size": "1536x1024"}, (1536, 1024)),
        ({"aspect_ratio": "16:9"}, (1024, 576)),
        ({"aspect_ratio": "9:16", "resolution": "2K"}, (1152, 2048)),
        ({"aspect_ratio": "1:1", "resolution": "4K"}, (4096, 4096)),
        ({}, (1024, 1024)),
    ],
)
def test_image_sizes_follow_the_arguments(
    arguments: dict[str, object], size: tuple[int, int]
) -> None:
    output = _plan("image", {"prompt": "x", **arguments})
    (image,) = output["images"]
    assert (image["width"], image["height"]) == size


def test_edits_keep_the_input_size_and_upscales_multiply_it() -> None:
    edit = _plan("edit", {"prompt": "x", "image_urls": ["mem://in"], "num_images": 3})
    assert [(i["width"], i["height"]) for i in edit["images"]] == [(300, 200)] * 3
    upscale = _plan("upscale", {"image_url": "mem://in", "scale": 4})
    assert (upscale["image"]["width"], upscale["image"]["height"]) == (1200, 800)


@pytest.mark.parametrize(
    ("kind", "arguments", "where"),
    [
        ("image", {}, "prompt"),
        ("image", {"prompt": "x", "num_images": 0}, "num_images"),
        ("image", {"prompt": "x", "image_size": "huge"}, "image_size"),
        ("edit", {"prompt": "x"}, "image_urls"),
        ("edit", {"prompt": "x", "image_urls": ["https://elsewhere/x.png"]}, "image_urls"),
        ("upscale", {"image_url": "mem://in", "scale": 99}, "scale"),
        ("video", {"prompt": "x", "duration": "forever"}, "duration"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    kind: Kind, arguments: dict[str, Any], where: str
) -> None:
    with pytest.raises(InputError) as caught:
        _plan(kind, arguments)
    assert caught.value.fault.status == 422
    assert caught.value.fault.detail[0]["loc"][1] == where


def test_every_request_draws_a_different_picture() -> None:
    files = []
    for request_id in ("a", "b"):
        _, planned = plan(
            "image",
            {"prompt": "same", "seed": 7, "image_size": "square"},
            request_id=request_id,
            fetch=lambda url: b"",
            url_for=str,
        )
        files.append(planned[0].render())
    assert files[0] != files[1]
    assert [image_size(f)[:2] for f in files] == [(512, 512), (512, 512)]


def test_the_mp4_is_well_formed_h264() -> None:
    data = tiny_mp4(width=64, height=48, seconds=2, fps=3)
    top = dict(boxes(data))
    assert top[b"ftyp"][:4] == b"isom"
    stbl = child(top[b"moov"], b"trak", b"mdia", b"minf", b"stbl")
    avcc = child(stbl, b"stsd", b"avc1", b"avcC")
    sps_len = struct.unpack(">H", avcc[6:8])[0]
    assert avcc[8] & 0x1F == 7 and avcc[1] == 66  # an SPS, baseline profile
    assert avcc[8 + sps_len] == 1 and avcc[11 + sps_len] & 0x1F == 8  # one PPS
    sizes_box = child(stbl, b"stsz")
    count = struct.unpack(">I", sizes_box[8:12])[0]
    sizes = struct.unpack(f">{count}I", sizes_box[12:])
    assert count == 6
    (offset,) = struct.unpack(">I", child(stbl, b"stco")[8:12])
    assert data[offset - 8 : offset] == struct.pack(">I", sum(sizes) + 8) + b"mdat"
    pos = offset
    for size in sizes:
        (nal_len,) = struct.unpack(">I", data[pos : pos + 4])
        assert nal_len == size - 4 and data[pos + 4] & 0x1F == 5  # one IDR slice per sample
        pos += size
    assert pos == len(data)
