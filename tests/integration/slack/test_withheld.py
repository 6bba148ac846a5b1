"""Slack has no spoilers: an output fal flags is shown only under `allow`, and nothing acts on it
anywhere else. No buttons on a withheld output; Upscale, Edit, a mention in its thread or the
Edit image shortcut on it are refused once the workspace withholds it. A grid's menus take the
picked image only. Through slack-bolt against the fake Slack and the fal simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adapters.fal.simulator import FalSimulator
from core.nsfw import NsfwMode
from tests.fakes.slack import Call, FakeSlack
from tests.fakes.slack import payloads as p
from tests.integration.slack.harness import ANN, CHANNEL, TEAM, SlackStack


def is_done(call: Call) -> bool:
    return str(call.params.get("text", "")).startswith("Done")


async def _imagine(stack: SlackStack, text: str) -> dict[str, Any]:
    """Run /imagine and return its result message (with its buttons) once delivered."""
    done = len(stack.fake.calls_to("chat.update"))
    await stack.command("/imagine", text)
    update = await stack.fake.wait_for("chat.update", is_done, count=done + 1)
    await stack.wait_delivered(ANN)
    message = stack.fake.message(CHANNEL, str(update.params["ts"]))
    assert message is not None
    return message


def _buttons(message: dict[str, Any]) -> list[str]:
    return [
        str((e.get("text") or e.get("placeholder") or {}).get("text"))
        for b in message.get("blocks", [])
        if b.get("type") == "actions"
        for e in b["elements"]
    ]


async def _click(stack: SlackStack, message: dict[str, Any], action_id: str) -> None:
    await stack.interaction(
        p.block_actions(
            p.button_action(message, action_id),
            message=message,
            team_id=TEAM,
            user_id=ANN,
            channel_id=CHANNEL,
            response_url=stack.fake.response_url(),
        )
    )


def _said(call: Call) -> str:
    return str(call.params.get("text") or "") + str(call.params.get("blocks") or "")


def _file_message(fake: FakeSlack, result: dict[str, Any]) -> dict[str, Any]:
    """The message in the result's thread that carries its uploaded files."""
    return next(m for m in fake.thread(CHANNEL, result["ts"]) if m.get("files"))


async def test_a_withheld_output_gets_no_buttons_but_delete(stack: SlackStack) -> None:
    result = await _imagine(stack, "an nsfw cat --model flux-dev")
    assert _buttons(result) == ["Delete"]
    assert not stack.fake.calls_to("files.completeUploadExternal")


async def test_a_spoilered_output_is_not_shown_on_slack_so_gets_no_buttons(
    stack: SlackStack,
) -> None:
    await stack.store.set_nsfw(TEAM, NsfwMode.SPOILER)
    result = await _imagine(stack, "an nsfw cat --model flux-dev --count 2")
    assert _buttons(result) == ["Delete"]


async def test_buttons_on_a_flagged_output_are_refused_once_the_workspace_withholds(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    await stack.store.set_nsfw(TEAM, NsfwMode.ALLOW)
    result = await _imagine(stack, "an nsfw cat --model flux-dev")
    assert _buttons(result)[-4:] == ["Rerun", "Edit", "🖌️ Edit region", "Delete"]
    assert "Vary (Subtle)" in _buttons(result)
    await stack.store.set_nsfw(TEAM, NsfwMode.WITHHOLD)

    await _click(stack, result, "falbot_upscale")
    refused = await fake.wait_for("response_url", lambda c: "withheld" in _said(c))
    await _click(stack, result, "falbot_edit")
    await fake.wait_for("response_url", lambda c: "withheld" in _said(c), count=2)

    assert "NSFW" in _said(refused)
    assert not fake.calls_to("views.open")
    assert len(fal_sim.submits) == 1
    assert len(await stack.jobs_of(ANN)) == 1


async def test_what_is_made_from_an_allowed_flagged_output_is_flagged_too(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    await stack.store.set_nsfw(TEAM, NsfwMode.ALLOW)
    result = await _imagine(stack, "an nsfw cat --model flux-dev")
    await _click(stack, result, "falbot_upscale")
    update = await fake.wait_for("chat.update", is_done, count=2)
    await stack.wait_delivered(ANN, count=2)
    upscaled = fake.message(CHANNEL, str(update.params["ts"]))
    assert upscaled is not None and fal_sim.submits[1][0] == "fal-ai/esrgan"  # esrgan flags nothing

    # Slack cannot spoiler: under `spoiler` the upscale, made from a flagged image, is not shown.
    await stack.store.set_nsfw(TEAM, NsfwMode.SPOILER)
    await _click(stack, upscaled, "falbot_upscale")

    await fake.wait_for("response_url", lambda c: "withheld" in _said(c))
    assert len(fal_sim.submits) == 2


async def test_a_mention_in_a_flagged_results_thread_is_refused_once_withheld(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    await stack.store.set_nsfw(TEAM, NsfwMode.ALLOW)
    result = await _imagine(stack, "an nsfw cat --model flux-dev")
    assert _file_message(fake, result)["files"]
    await stack.store.set_nsfw(TEAM, NsfwMode.WITHHOLD)

    await stack.event(
        p.app_mention(
            "<@UBOT> upscale",
            user=ANN,
            channel=CHANNEL,
            ts="9999999999.000001",
            thread_ts=result["ts"],
        )
    )

    refused = await fake.wait_for("chat.postEphemeral", lambda c: "withheld" in _said(c))
    assert "NSFW" in _said(refused)
    assert not fake.calls_to("files.download")
    assert len(fal_sim.submits) == 1


async def test_the_edit_shortcut_on_a_flagged_result_is_refused_once_withheld(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    await stack.store.set_nsfw(TEAM, NsfwMode.ALLOW)
    result = await _imagine(stack, "an nsfw cat --model flux-dev")
    await stack.store.set_nsfw(TEAM, NsfwMode.WITHHOLD)

    await stack.interaction(
        p.message_action(
            _file_message(fake, result),
            team_id=TEAM,
            user_id=ANN,
            channel_id=CHANNEL,
            response_url=fake.response_url(),
        )
    )

    refused = await fake.wait_for("response_url", lambda c: "withheld" in _said(c))
    assert "NSFW" in _said(refused)
    assert not fake.calls_to("views.open")
    assert len(fal_sim.submits) == 1


async def test_grid_buttons_act_on_the_picked_image_only_after_a_restart(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator, db_path: Path
) -> None:
    result = await _imagine(stack, "three foxes --model flux-dev --count 3")
    menus = [f"Image {n}: vary, zoom, pan…" for n in (1, 2, 3)]
    assert _buttons(result) == [*menus, "Rerun", "Delete"]
    (grid,) = await stack.jobs_of(ANN)
    assert grid.result is not None
    urls = [o.url for o in grid.result.outputs]
    await stack.close()
    stack = await SlackStack.open(fake, fal_sim, db_path)
    try:
        await _work_on_the_grid(stack, result, urls)
    finally:
        await stack.close()


async def _choose(stack: SlackStack, result: dict[str, Any], menu: str, value: str) -> None:
    await stack.interaction(
        p.block_actions(
            p.select_action(result, menu, value),
            message=result,
            team_id=TEAM,
            user_id=ANN,
            channel_id=CHANNEL,
            response_url=stack.fake.response_url(),
        )
    )


async def _work_on_the_grid(stack: SlackStack, result: dict[str, Any], urls: list[str]) -> None:
    fake, fal_sim = stack.fake, stack.sim
    (grid,) = await stack.jobs_of(ANN)

    await _choose(stack, result, "falbot_pick_2", f"upscale:{grid.id}")
    await fake.wait_for("chat.update", is_done, count=2)
    assert fal_sim.submits[1][0] == "fal-ai/esrgan"
    assert fal_sim.submits[1][1]["image_url"] == urls[1]

    await _choose(stack, result, "falbot_pick_3", f"edit:{grid.id}")
    await fake.wait_for("views.open")
    values = {
        "prompt": {"prompt_input": {"type": "plain_text_input", "value": "add snow"}},
        "model": {"model_input": {"type": "static_select", "selected_option": None}},
    }
    await stack.interaction(p.view_submission(fake.views[-1], values, team_id=TEAM, user_id=ANN))
    await fake.wait_for("chat.update", is_done, count=3)
    endpoint, arguments = fal_sim.submits[2]
    assert endpoint == "fal-ai/nano-banana/edit"
    assert arguments["image_urls"] == [urls[2]]


async def _saved_flagged_result(stack: SlackStack, fake: FakeSlack) -> dict[str, Any]:
    """A flagged result shown under `allow`, then withheld: the user re-uploads the saved file
    (Slack keeps its name, `falbot-<job>-1.png`)."""
    await stack.store.set_nsfw(TEAM, NsfwMode.ALLOW)
    result = await _imagine(stack, "an nsfw cat --model flux-dev")
    shown = _file_message(fake, result)["files"][0]
    await stack.store.set_nsfw(TEAM, NsfwMode.WITHHOLD)
    data = fake.files[shown["id"]].data
    return fake.add_file(data, name=shown["name"], mimetype="image/png")


async def test_upscale_command_with_a_saved_flagged_result_is_refused_once_withheld(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    saved = await _saved_flagged_result(stack, fake)
    await stack.command("/upscale", "")
    await fake.wait_for("views.open")

    values = {"image": {"image_input": p.file_input([saved])}}
    await stack.interaction(p.view_submission(fake.views[-1], values, team_id=TEAM, user_id=ANN))

    refused = await fake.wait_for("chat.postEphemeral", lambda c: "withheld" in _said(c))
    assert "NSFW" in _said(refused)
    assert len(fal_sim.submits) == 1


async def test_a_dm_with_a_saved_flagged_result_is_refused_once_withheld(
    stack: SlackStack, fake: FakeSlack, fal_sim: FalSimulator
) -> None:
    saved = await _saved_flagged_result(stack, fake)
    sent = fake.add_message("DANN", user=ANN, text="make it a painting", files=[saved])

    await stack.event(
        p.direct_message(sent["text"], user=ANN, channel="DANN", ts=sent["ts"], files=[saved])
    )

    refused = await fake.wait_for("chat.postEphemeral", lambda c: "withheld" in _said(c))
    assert "NSFW" in _said(refused)
    assert len(fal_sim.submits) == 1
