"""`/falbot settings` on Slack: an ephemeral Block Kit panel whose menus change the person's
defaults in place; a changed default applies to their next job and to nobody else's; reset puts
the defaults back; the workspace's defaults are for admins; remix mode opens a modal with the
prompt before Rerun, and the changed prompt is what fal gets."""

from __future__ import annotations

import json
from typing import Any

from adapters.fal.simulator import FalSimulator
from tests.fakes.slack import Call, FakeSlack
from tests.fakes.slack import payloads as p
from tests.integration.slack.harness import ANN, BOSS, CHANNEL, TEAM, SlackStack

BOB = "UBOB"


def is_done(call: Call) -> bool:
    return str(call.params.get("text", "")).startswith("Done")


def _text(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")


async def _panel(stack: SlackStack, text: str = "", *, user: str = ANN) -> dict[str, Any]:
    """The panel `/falbot settings …` answers with (through the command's response_url)."""
    seen = len(stack.fake.calls_to("response_url"))
    await stack.command("/falbot", f"settings {text}".strip(), user=user)
    call = await stack.fake.wait_for("response_url", count=seen + 1)
    return dict(call.params)


async def _choose(
    stack: SlackStack, panel: dict[str, Any], menu: str, *values: str, user: str = ANN
) -> dict[str, Any]:
    """Answer one of the panel's menus (as Slack sends it); the panel that replaces it."""
    actions = next(b for b in panel["blocks"] if b["type"] == "actions")
    element = next(e for e in actions["elements"] if e["action_id"].endswith(f"_{menu}"))
    options = [o for o in element["options"] if o["value"] in values]
    assert len(options) == len(values), element["options"]
    action: dict[str, Any] = {
        "type": element["type"],
        "action_id": element["action_id"],
        "block_id": actions["block_id"],
    }
    if element["type"] == "multi_static_select":
        action["selected_options"] = options
    else:
        action["selected_option"] = options[0]
    seen = len(stack.fake.calls_to("response_url"))
    message = {"ts": "1700000500.000100", "blocks": panel["blocks"], "text": panel["text"]}
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
    call = await stack.fake.wait_for("response_url", count=seen + 1)
    assert call.params["replace_original"] is True  # the panel changes in place
    return dict(call.params)


async def _imagine(stack: SlackStack, user: str, prompt: str, count: int) -> None:
    await stack.command("/imagine", prompt, user=user)
    await stack.fake.wait_for("chat.update", is_done, count=count)


async def test_a_changed_default_applies_to_the_next_job_and_nobody_elses(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    fake.add_user(BOB, name="bob")
    panel = await _panel(stack)
    assert panel["response_type"] == "ephemeral"
    assert "*Your settings*" in _text(panel["blocks"])
    await _choose(stack, panel, "model", "flux-dev")
    changed = await _choose(stack, panel, "aspect_ratio", "16:9")
    assert "16:9 (yours)" in _text(changed["blocks"])

    await _imagine(stack, ANN, "a harbour", 1)
    await _imagine(stack, BOB, "a harbour", 2)
    (ann_endpoint, ann_args), (bob_endpoint, bob_args) = fal_sim.submits
    assert (ann_endpoint, ann_args["image_size"]) == ("fal-ai/flux/dev", "landscape_16_9")
    assert (bob_endpoint, bob_args["image_size"]) == ("fal-ai/flux/schnell", "square_hd")

    reset = await _panel(stack, "reset")
    assert _text(reset["blocks"]).startswith("Your settings are reset.")
    await _imagine(stack, ANN, "a harbour", 3)
    assert fal_sim.submits[2][0] == "fal-ai/flux/schnell"
    assert fal_sim.submits[2][1]["image_size"] == "square_hd"


async def test_the_workspace_defaults_are_for_admins(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    await stack.command("/falbot", "settings workspace")
    refused = await fake.wait_for("response_url")
    assert "Only falbot admins" in json.dumps(refused.params["blocks"])

    panel = await _panel(stack, "workspace", user=BOSS)
    assert "This workspace's defaults" in _text(panel["blocks"])
    await _choose(stack, panel, "num_images", "2", user=BOSS)
    await _imagine(stack, ANN, "two lanes", 1)
    assert fal_sim.submits[0][1]["num_images"] == 2


async def test_remix_mode_opens_the_prompt_before_rerun(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    panel = await _panel(stack)
    changed = await _choose(stack, panel, "modes", "remix")
    assert "Remix mode: on (yours)" in _text(changed["blocks"])
    await _imagine(stack, ANN, "a red kite over dunes", 1)
    await stack.wait_delivered(ANN)
    post = fake.calls_to("chat.postMessage")[0]
    result = fake.message(CHANNEL, post.answer["ts"])
    assert result is not None

    await stack.interaction(
        p.block_actions(
            p.button_action(result, "falbot_rerun"),
            message=result,
            team_id=TEAM,
            user_id=ANN,
            channel_id=CHANNEL,
            response_url=fake.response_url(),
        )
    )
    await fake.wait_for("views.open")
    view = fake.views[-1]
    assert view["callback_id"] == "falbot_remix_modal"
    box = view["blocks"][0]
    assert box["element"]["initial_value"] == "a red kite over dunes"
    assert len(fal_sim.submits) == 1  # nothing started before the modal is sent

    values = {box["block_id"]: {box["element"]["action_id"]: p.plain_text_input("a blue kite")}}
    await stack.interaction(p.view_submission(view, values, team_id=TEAM, user_id=ANN))
    await fake.wait_for("chat.update", is_done, count=2)
    endpoint, arguments = fal_sim.submits[1]
    assert endpoint == "fal-ai/flux/schnell"
    assert arguments["prompt"] == "a blue kite"
    jobs = await stack.jobs_of(ANN)
    assert jobs[0].parent_job_id == jobs[1].id
