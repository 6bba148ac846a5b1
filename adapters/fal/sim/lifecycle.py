"""One request's life at the simulator: its queue wait, its run (logs, outputs) and its end."""

from __future__ import annotations

import asyncio

from adapters.fal.sim.host import LifeHost
from adapters.fal.sim.kinds import kind_of
from adapters.fal.sim.outputs import InputError, plan
from adapters.fal.sim.schemas import check_enums
from adapters.fal.sim.state import SimRequest, StoredFile


async def live(sim: LifeHost, req: SimRequest) -> None:
    """Queue, run and complete `req` as the simulator's controls say."""
    loop = asyncio.get_running_loop()
    if sim.queue_wait > 0:
        await asyncio.sleep(sim.queue_wait)
    req.waited = True
    await sim.wait_for(lambda: may_start(sim, req), within=None)
    req.state = "IN_PROGRESS"
    req.started_at = loop.time()
    lines = list(sim.log_lines)
    if lines:
        req.add_log(lines[0])
    sim.notify()
    try:
        check_enums(req.endpoint, req.arguments)
        output, files = await asyncio.to_thread(
            plan,
            kind_of(req.endpoint, sim.endpoint_kinds),
            req.arguments,
            request_id=req.id,
            fetch=sim.fetch_input,
            url_for=lambda name: sim.file_url(f"out/{req.id}/{name}"),
            video_fps=sim.video_fps,
            nsfw_marker=sim.nsfw_marker,
        )
    except InputError as exc:
        sim.complete(req, exc.fault)
        return
    step = sim.run_time / max(1, len(lines))
    for line in lines[1:]:
        if step > 0:
            await asyncio.sleep(step)
        req.add_log(line)
        sim.notify()
    if step > 0:
        await asyncio.sleep(step)
    await sim.wait_for(lambda: not sim.hold or req.released, within=None)
    if req.fault is None:
        for file in files:
            sim.files[f"out/{req.id}/{file.name}"] = StoredFile(
                file.content_type, render=file.render
            )
        req.output = output
    sim.complete(req, req.fault)


def may_start(sim: LifeHost, req: SimRequest) -> bool:
    if not _eligible(sim, req):
        return False
    if sim.max_running is None:
        return True
    if sim.running >= sim.max_running:
        return False
    # First come, first served: an earlier request that could start goes first.
    return not any(
        r.state == "IN_QUEUE" and r.seq < req.seq and _eligible(sim, r)
        for r in sim.requests.values()
    )


def _eligible(sim: LifeHost, req: SimRequest) -> bool:
    return req.waited and (req.admitted or not sim.hold_queue)
