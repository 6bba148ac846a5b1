"""`/imagine` end to end, over HTTP and over Socket Mode."""

from __future__ import annotations

import json

from adapters.fal.simulator import FalSimulator
from tests.fakes.slack import Call, FakeSlack
from tests.integration.slack.harness import ANN, CHANNEL, ONE_IMAGE_ACTIONS, SlackStack

STAGES = ("starting", "queued", "submitted", "running", "uploading")


def stage_of(call: Call) -> str:
    text = str(call.params.get("text", ""))
    if text.startswith("Done"):
        return "done"
    return next((s for s in STAGES if s in text), "?")


async def imagine_flow(stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator) -> None:
    """What every /imagine shows: its message, progress in order, the upload, the footer."""
    post = await fake.wait_for("chat.postMessage")
    assert post.params["channel"] == CHANNEL
    assert "a lighthouse at dusk" in post.params["blocks"][0]["text"]["text"]
    message_ts = post.answer["ts"]
    await fake.wait_for("chat.update", lambda c: stage_of(c) == "running")
    fal_sim.release()

    final = await fake.wait_for(
        "chat.update", lambda c: str(c.params.get("text", "")).startswith("Done"), timeout=10
    )
    updates = [c for c in fake.calls_to("chat.update") if c.params["ts"] == message_ts]
    stages = [stage_of(c) for c in updates]
    order = [*STAGES, "done"]
    assert stages == sorted(stages, key=order.index), stages
    assert stages[0] == "queued"
    assert "running" in stages
    assert stages[-1] == "done"

    # files_upload_v2: getUploadURLExternal → the bytes to the upload URL → completeUploadExternal
    get_url = fake.calls_to("files.getUploadURLExternal")
    sent = fake.calls_to("files.upload_url")
    complete = fake.calls_to("files.completeUploadExternal")
    assert len(get_url) == len(sent) == len(complete) == 1
    file_id = get_url[0].answer["file_id"]
    order_of = [c.method for c in fake.calls if c.method.startswith("files.")]
    assert order_of[-3:] == [
        "files.getUploadURLExternal",
        "files.upload_url",
        "files.completeUploadExternal",
    ]
    jobs = await stack.jobs_of(ANN)
    assert len(jobs) == 1
    job = jobs[0]
    assert job.result is not None
    upload = fake.uploads[file_id]
    assert upload["data"] == await stack.output_bytes(job.result.outputs[0].url)
    assert upload["data"].startswith(b"\x89PNG")
    assert int(get_url[0].params["length"]) == len(upload["data"])
    assert json.loads(complete[0].params["files"])[0]["id"] == file_id
    assert complete[0].params["channel_id"] == CHANNEL
    assert complete[0].params["thread_ts"] == message_ts  # into the job message's thread
    footer = f"{job.model} · $"
    assert complete[0].params["initial_comment"].startswith(footer)
    assert f"job {job.short_id}" in complete[0].params["initial_comment"]
    assert f"job {job.short_id}" in final.params["text"]
    assert f"seed {job.result.seed}" in final.params["text"]
    actions = [b for b in final.params["blocks"] if b["type"] == "actions"]
    buttons = [e["action_id"] for b in actions for e in b["elements"]]
    assert buttons == ONE_IMAGE_ACTIONS


async def test_imagine_over_http(stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator) -> None:
    fal_sim.hold = True
    assert stack.adapter.connected is None  # HTTP mode: Slack calls us
    gate = fake.hold("chat.postMessage")
    answer, elapsed = await stack.timed_command("/imagine", "a lighthouse at dusk --aspect 16:9")
    # Acknowledged while the job's first Slack call is still held: the ack waits for nothing.
    assert answer.status == 200
    assert elapsed < 3.0
    await fake.wait_for("held:chat.postMessage")
    gate.set()
    await imagine_flow(stack, fake, fal_sim)


async def test_imagine_over_socket_mode(
    socket_stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    fal_sim.hold = True
    assert socket_stack.adapter.connected is True
    gate = fake.hold("chat.postMessage")
    ack = await socket_stack.command("/imagine", "a lighthouse at dusk --aspect 16:9")
    assert "envelope_id" in ack.params
    await fake.wait_for("held:chat.postMessage")
    gate.set()
    await imagine_flow(socket_stack, fake, fal_sim)


async def test_socket_mode_reconnects_when_slack_drops_the_socket(
    socket_stack: SlackStack, fake: FakeSlack
) -> None:
    await fake.drop_sockets()  # Slack closes sockets now and then (deploys, refreshes)
    await fake.wait_for("apps.connections.open", count=2)
    await fake.wait_for("socket.connect", count=2)
    ack = await socket_stack.command("/falbot", "models")
    assert "envelope_id" in ack.params
    answer = await fake.wait_for("response_url")
    assert "flux-dev" in answer.params["blocks"][0]["text"]["text"]
    assert socket_stack.adapter.connected is True
