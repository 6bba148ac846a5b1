"""The image verbs under a result on Slack (issue 14), through slack-bolt against the fake Slack
and fal-client against the simulator: each button reaches its endpoint with the parent's output
and the right canvas, and the child is posted in the result's thread with its cost, seed and a
link to the parent; refusals are private, clear and take nothing; the buttons work after a
restart and on someone else's result as `core.verbs.PUBLIC` says."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.fal.simulator import FalSimulator
from core.jobs import Actor, Job
from core.nsfw import NsfwMode
from core.quota import BucketLimits, QuotaScope
from tests.fakes.slack import Call, FakeSlack
from tests.fakes.slack import payloads as p
from tests.integration.slack.harness import ANN, BOSS, CHANNEL, TEAM, SlackStack

BEA = "UBEA"  # another ordinary member

# action id → (endpoint, what fal is sent besides the parent's image)
VERBS: dict[str, tuple[str, dict[str, Any]]] = {
    "falbot_vary_subtle": ("fal-ai/flux/dev/image-to-image", {"strength": 0.6, "num_images": 4}),
    "falbot_vary_strong": ("fal-ai/flux/dev/image-to-image", {"strength": 0.9, "num_images": 4}),
    "falbot_upscale": ("fal-ai/esrgan", {"scale": 2}),
    "falbot_upscale_creative": (
        "fal-ai/clarity-upscaler",
        {"upscale_factor": 2, "prompt": "a paper boat"},
    ),
    "falbot_zoom_2": (
        "fal-ai/bria/expand",
        {"canvas_size": [2048, 2048], "original_image_location": [512, 512]},
    ),
    "falbot_zoom_1.5": ("fal-ai/bria/expand", {"canvas_size": [1536, 1536]}),
    "falbot_pan_left": (
        "fal-ai/bria/expand",
        {"canvas_size": [1536, 1024], "original_image_location": [512, 0]},
    ),
    "falbot_pan_right": ("fal-ai/bria/expand", {"original_image_location": [0, 0]}),
    "falbot_pan_up": (
        "fal-ai/bria/expand",
        {"canvas_size": [1024, 1536], "original_image_location": [0, 512]},
    ),
    "falbot_pan_down": ("fal-ai/bria/expand", {"canvas_size": [1024, 1536]}),
    "falbot_animate": ("fal-ai/wan-25-preview/image-to-video", {"prompt": "a paper boat"}),
}


def is_done(call: Call) -> bool:
    return str(call.params.get("text", "")).startswith("Done")


async def _imagine(
    stack: SlackStack, text: str = "a paper boat --model flux-dev"
) -> dict[str, Any]:
    done = len(stack.fake.calls_to("chat.update"))
    await stack.command("/imagine", text)
    update = await stack.fake.wait_for("chat.update", is_done, count=done + 1)
    await stack.wait_delivered(ANN)
    message = stack.fake.message(CHANNEL, str(update.params["ts"]))
    assert message is not None
    return message


async def _press(
    stack: SlackStack, message: dict[str, Any], action: dict[str, Any], user: str = ANN
) -> None:
    await stack.interaction(
        p.block_actions(
            action,
            message=message,
            team_id=TEAM,
            user_id=user,
            channel_id=CHANNEL,
            response_url=stack.fake.response_url(),
        )
    )


async def _click(
    stack: SlackStack, message: dict[str, Any], action_id: str, user: str = ANN
) -> None:
    await _press(stack, message, p.button_action(message, action_id), user)


async def _child(stack: SlackStack, parent: Job, user: str = ANN) -> Job:
    await stack.wait_delivered(user, count=2 if user == ANN else 1, timeout=20)
    return next(j for j in await stack.jobs_of(user) if j.id != parent.id)


def _said(call: Call) -> str:
    return str(call.params.get("text") or "") + str(call.params.get("blocks") or "")


def _labels(message: dict[str, Any]) -> list[list[str]]:
    return [
        [str((e.get("text") or e.get("placeholder") or {}).get("text")) for e in b["elements"]]
        for b in message["blocks"]
        if b["type"] == "actions"
    ]


async def test_a_single_image_has_every_verb_then_rerun_edit_delete(stack: SlackStack) -> None:
    result = await _imagine(stack)
    assert _labels(result) == [
        [
            *("Vary (Subtle)", "Vary (Strong)", "Upscale (Subtle)", "Upscale (Creative)"),
            *("Zoom Out 2×", "Zoom Out 1.5×", "⬅️ Pan", "➡️ Pan", "⬆️ Pan", "⬇️ Pan", "Animate"),
        ],
        ["Rerun", "Edit", "🖌️ Edit region", "Delete"],
    ]


@pytest.mark.parametrize("action_id", list(VERBS))
async def test_each_verb_runs_on_the_parents_image_and_posts_a_child(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator, action_id: str
) -> None:
    result = await _imagine(stack)
    (parent,) = await stack.jobs_of(ANN)
    assert parent.result is not None

    await _click(stack, result, action_id)
    child = await _child(stack, parent)

    endpoint, arguments = fal_sim.submits[-1]
    want_endpoint, want = VERBS[action_id]
    assert endpoint == want_endpoint
    assert arguments["image_url"] == parent.result.outputs[0].url
    assert {k: arguments[k] for k in want} == want
    assert child.parent_job_id == parent.id and child.result is not None
    post = fake.calls_to("chat.postMessage")[-1]
    assert post.params["thread_ts"] == result["ts"]  # in the parent's thread
    final = fake.message(CHANNEL, str(post.answer["ts"]))
    assert final is not None
    footer = str(final["blocks"][1]["elements"][0]["text"])
    link = f"https://fake.slack.com/archives/{CHANNEL}/p{result['ts'].replace('.', '')}"
    assert f"from <{link}|job {parent.short_id}>" in footer
    assert child.result.cost_text in footer and f"seed {child.result.seed}" in footer


async def test_a_grid_images_menu_runs_a_verb_on_that_image(
    stack: SlackStack, fal_sim: FalSimulator
) -> None:
    result = await _imagine(stack, "two boats --model flux-dev --count 2")
    (parent,) = await stack.jobs_of(ANN)
    assert parent.result is not None
    assert _labels(result) == [
        ["Image 1: vary, zoom, pan…", "Image 2: vary, zoom, pan…"],
        ["Rerun", "Delete"],
    ]

    chosen = p.select_action(result, "falbot_pick_2", f"zoom_1.5:{parent.id}")
    await _press(stack, result, chosen)
    await _child(stack, parent)

    endpoint, arguments = fal_sim.submits[-1]
    assert endpoint == "fal-ai/bria/expand"
    assert arguments["image_url"] == parent.result.outputs[1].url


async def _broke(stack: SlackStack) -> None:
    limits = BucketLimits(capacity=Decimal(1), refill_per_hour=Decimal("0.01"))
    await stack.store.set_quota(TEAM, QuotaScope.USER, ANN, limits)


async def _ban(stack: SlackStack) -> None:
    await stack.store.set_banned(TEAM, ANN, True)


async def _deny(stack: SlackStack) -> None:
    await stack.store.set_model_denied(TEAM, "wan-2.5-animate", True)


@pytest.mark.parametrize(
    ("setup", "said"),
    [
        (_broke, "Out of credits"),
        (_ban, "You are not allowed to use falbot here"),
        (_deny, "Animate runs on wan-2.5-animate, which is not allowed in this workspace."),
    ],
)
async def test_a_verb_is_refused_privately_and_takes_nothing(
    stack: SlackStack,
    fake: FakeSlack,
    fal_sim: FalSimulator,
    setup: Callable[[SlackStack], Awaitable[None]],
    said: str,
) -> None:
    result = await _imagine(stack)
    await setup(stack)
    submits, posts = len(fal_sim.submits), len(fake.calls_to("chat.postMessage"))
    level = await stack.credits_of(ANN)

    await _click(stack, result, "falbot_animate")

    refused = await fake.wait_for("response_url", lambda c: said in _said(c))
    assert refused.params.get("response_type", "ephemeral") == "ephemeral"
    assert len(fal_sim.submits) == submits and len(await stack.jobs_of(ANN)) == 1
    assert len(fake.calls_to("chat.postMessage")) == posts  # nothing public
    assert await stack.credits_of(ANN) >= level  # only refilled since


async def test_a_verb_on_a_withheld_output_is_refused_and_takes_nothing(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    await stack.store.set_nsfw(TEAM, NsfwMode.ALLOW)
    result = await _imagine(stack, "an nsfw boat --model flux-dev")  # shown: it has buttons
    await stack.store.set_nsfw(TEAM, NsfwMode.WITHHOLD)
    submits, level = len(fal_sim.submits), await stack.credits_of(ANN)

    await _click(stack, result, "falbot_vary_subtle")

    await fake.wait_for("response_url", lambda c: "withheld" in _said(c))
    assert len(fal_sim.submits) == submits and len(await stack.jobs_of(ANN)) == 1
    assert await stack.credits_of(ANN) >= level


async def test_a_verb_button_works_after_a_restart(
    fake: FakeSlack, fal_sim: FalSimulator, db_path: Path
) -> None:
    first = await SlackStack.open(fake, fal_sim, db_path)
    try:
        result = await _imagine(first)
    finally:
        await first.close()
    second = await SlackStack.open(fake, fal_sim, db_path)
    try:
        (parent,) = await second.jobs_of(ANN)
        await _click(second, result, "falbot_pan_right")
        await _child(second, parent)
        assert fal_sim.submits[-1][0] == "fal-ai/bria/expand"
    finally:
        await second.close()


async def test_on_someone_elses_result_the_verbs_are_public_the_rest_is_not(
    stack: SlackStack, fake: FakeSlack
) -> None:
    """The image verbs are public by design: they work on a picture the whole channel sees, and
    the job is the presser's own (their quota, ban, models, credits). Rerun and Edit replay or
    continue the requester's own request; Delete removes their message (or an admin does)."""
    fake.add_user(BEA, name="bea")
    result = await _imagine(stack)
    (parent,) = await stack.jobs_of(ANN)
    level = await stack.credits_of(BEA)

    await _click(stack, result, "falbot_zoom_2", user=BEA)
    child = await _child(stack, parent, user=BEA)
    assert child.user_id == BEA and child.parent_job_id == parent.id
    assert await stack.credits_of(BEA) < level  # charged to Bea, not Ann

    for action_id in ("falbot_rerun", "falbot_edit", "falbot_delete"):
        before = len(fake.calls_to("response_url"))
        await _click(stack, result, action_id, user=BEA)
        refused = await fake.wait_for("response_url", count=before + 1)
        assert "Only the person who asked for this result, or an admin" in _said(refused)
    await _click(stack, result, "falbot_delete", user=BOSS)
    await fake.wait_for("chat.delete")


async def test_remix_mode_asks_the_prompt_before_a_pan_and_keeps_the_canvas(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    """Remix mode: Vary, Zoom and Pan (and Rerun) first open the prompt; the pan keeps its
    canvas and placement, fal gets the changed prompt, and the child still links its parent.
    Bea remixes Ann's result: the verb is anyone's, the modal too."""
    fake.add_user(BEA, name="bea")
    result = await _imagine(stack)
    (parent,) = await stack.jobs_of(ANN)
    await stack.engine.preferences.change(Actor("slack", TEAM, BEA), {"remix": True})

    await _click(stack, result, "falbot_pan_left", user=BEA)
    await fake.wait_for("views.open")
    view = fake.views[-1]
    assert view["title"]["text"] == "Remix: ⬅️ Pan"
    box = view["blocks"][0]
    assert box["element"]["initial_value"] == "a paper boat" and len(fal_sim.submits) == 1

    values = {box["block_id"]: {box["element"]["action_id"]: p.plain_text_input("a red boat")}}
    await stack.interaction(p.view_submission(view, values, team_id=TEAM, user_id=BEA))
    child = await _child(stack, parent, user=BEA)

    endpoint, arguments = fal_sim.submits[-1]
    assert endpoint == "fal-ai/bria/expand" and arguments["prompt"] == "a red boat"
    assert arguments["original_image_location"] == [512, 0]
    assert child.parent_job_id == parent.id
    post = fake.calls_to("chat.postMessage")[-1]
    final = fake.message(CHANNEL, str(post.answer["ts"]))
    assert final is not None
    link = f"https://fake.slack.com/archives/{CHANNEL}/p{result['ts'].replace('.', '')}"
    assert f"from <{link}|job {parent.short_id}>" in str(final["blocks"][1]["elements"][0]["text"])


async def test_a_verb_above_the_threshold_is_quoted_and_its_confirm_keeps_the_parent(
    fake: FakeSlack, fal_sim: FalSimulator, db_path: Path
) -> None:
    """Animate ($0.50) above the workspace's $0.20: its quote first (to Ann only), nothing
    started; Confirm starts the child in the result's thread, its footer linking the result."""
    threshold = {"FALBOT_CONFIRM_ABOVE_USD": Decimal("0.20")}
    stack = await SlackStack.open(fake, fal_sim, db_path, settings=threshold)
    try:
        result = await _imagine(stack)
        (parent,) = await stack.jobs_of(ANN)
        await _click(stack, result, "falbot_animate")
        call = await fake.wait_for("chat.postEphemeral")
        blocks = call.params["blocks"]
        quote = {
            "ts": call.answer["message_ts"],
            "blocks": json.loads(blocks) if isinstance(blocks, str) else blocks,
        }
        assert "wan-2.5-animate" in str(call.params["text"]) and len(fal_sim.submits) == 1

        await _press(stack, quote, p.button_action(quote, "falbot_quote_confirm"))
        child = await _child(stack, parent)

        assert fal_sim.submits[-1][0] == "fal-ai/wan-25-preview/image-to-video"
        post = fake.calls_to("chat.postMessage")[-1]
        assert post.params["thread_ts"] == result["ts"]
        final = fake.message(CHANNEL, str(post.answer["ts"]))
        assert final is not None and child.parent_job_id == parent.id
        link = f"https://fake.slack.com/archives/{CHANNEL}/p{result['ts'].replace('.', '')}"
        footer = str(final["blocks"][1]["elements"][0]["text"])
        assert f"from <{link}|job {parent.short_id}>" in footer
    finally:
        await stack.close()
