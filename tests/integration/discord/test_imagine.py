"""/imagine end to end: the defer, progress edits in order, the result as an attachment with
the cost footer and buttons; links past the attachment limit; video."""

from __future__ import annotations

import re

from core.jobs import Actor
from core.money import format_usd
from tests.fakes.discord import Issued, Recorded
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import ONE_IMAGE, Env

FOOTER = re.compile(
    r"-# (?P<model>[\w.-]+) · \$(?P<cost>[0-9.]+) · (?P<secs>[0-9.]+) s · seed (?P<seed>\d+)"
    r" · job (?P<job>[0-9a-f]{8})$"
)


async def test_imagine_end_to_end(env: Env) -> None:
    await env.start_bot()
    env.sim.log_lines = ["Loading the model", "Denoising step 10/20", "Denoising step 20/20"]
    env.sim.hold_queue = True  # each stage waits until the test has seen it shown
    env.sim.hold = True

    issued = await env.slash(
        env.alice,
        "imagine",
        options=[
            p.option("prompt", p.STRING, "a lighthouse at dusk"),
            p.option("model", p.STRING, "flux-dev"),
            p.option("aspect", p.STRING, "16:9"),
        ],
    )

    callback = await env.callback(issued)
    assert callback.status == 200
    assert callback.json["type"] == 5  # deferred: "falbot is thinking…"
    assert not (callback.json.get("data") or {}).get("flags", 0) & 64  # the job is public
    await _shown(env, issued, "submitted to fal")
    env.sim.admit()
    running = await _shown(env, issued, "Denoising step 20/20")
    assert "running" in running.json["content"]
    env.sim.release()
    final = await env.final_edit(issued)

    # the result: the simulator's image as an attachment, with the footer and buttons
    assert len(final.files) == 1
    submitted = env.sim.submits[0]
    assert submitted[0] == "fal-ai/flux/dev"
    assert submitted[1]["prompt"] == "a lighthouse at dusk"
    req = next(iter(env.sim.requests.values()))
    assert req.output is not None
    assert final.files[0].data == await env.output_bytes(req.output["images"][0]["url"])
    assert final.files[0].data.startswith(b"\x89PNG")
    content = final.json["content"]
    assert "> a lighthouse at dusk" in content
    footer = FOOTER.search(content)
    assert footer is not None, content
    assert footer["model"] == "flux-dev"
    assert footer["seed"] == str(req.output["seed"])
    jobs = await env.bots[0].app.engine.jobs(_actor(env), limit=5)
    assert footer["job"] == jobs[0].short_id
    assert jobs[0].result is not None
    assert f"${footer['cost']}" == format_usd(jobs[0].result.cost_usd)
    labels = env.fake.button_ids(env.fake.original(issued))
    assert set(labels) == ONE_IMAGE
    assert all(cid.endswith(jobs[0].id) for cid in labels.values())
    message = env.fake.original(issued)
    assert [a["filename"] for a in message["attachments"]] == [final.files[0].filename]

    # progress: edits of the same message, stages in order, the result last
    edits = env.edits(issued)
    assert edits[-1] is final
    stages = [_stage(e.json["content"]) for e in edits[:-1]]
    order = ["queued", "submitted", "running", "uploading"]
    assert stages, "no progress was shown"
    assert [order.index(s) for s in stages] == sorted(order.index(s) for s in stages)
    assert stages[0] == "queued"
    assert {"submitted", "running"} <= set(stages)
    assert all("-# job " + jobs[0].short_id in e.json["content"] for e in edits[:-1])


async def test_results_over_the_attachment_limit_are_linked(env: Env) -> None:
    await env.start_bot()

    issued = await env.slash(
        env.alice,
        "imagine",
        options=[p.option("prompt", p.STRING, "a big one"), p.option("count", p.INTEGER, 2)],
        size_limit=1000,  # bytes: smaller than any PNG the simulator draws
    )

    final = await env.final_edit(issued)
    assert final.files == []
    req = next(iter(env.sim.requests.values()))
    assert req.output is not None
    for image in req.output["images"]:
        assert f"<{image['url']}>" in final.json["content"]
    assert FOOTER.search(final.json["content"])


async def test_video_is_attached_with_rerun_and_delete_only(env: Env) -> None:
    await env.start_bot()

    issued = await env.slash(
        env.alice,
        "video",
        options=[p.option("prompt", p.STRING, "waves"), p.option("duration", p.INTEGER, 5)],
    )

    final = await env.final_edit(issued)
    assert len(final.files) == 1
    assert final.files[0].filename.endswith(".mp4")
    assert b"ftyp" in final.files[0].data[:16]
    assert set(env.fake.button_ids(env.fake.original(issued))) == {"Rerun", "Delete"}


async def _shown(env: Env, issued: Issued, text: str) -> Recorded:
    return await env.fake.wait_for(
        lambda r: r.method == "PATCH" and issued.token in r.path and text in r.json["content"]
    )


def _stage(content: str) -> str:
    for stage in ("queued", "submitted", "running", "uploading"):
        if f"· {stage}" in content:
            return stage
    raise AssertionError(f"no stage in {content!r}")


def _actor(env: Env) -> Actor:
    return Actor("discord", env.fake.guild_id, env.alice.id)
