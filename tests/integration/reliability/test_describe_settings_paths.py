"""Who may press issue 14's new buttons and menus, on both platforms: a describe's Imagine
buttons are the requester's (or an admin's), as Rerun is, since a press starts a job charged to
the presser on the describe's text; a settings panel's own menus change only the presser's
settings (the panel names no person: whoever uses it changes their own), and its workspace
menus refuse anyone but an admin, with nothing kept."""

from __future__ import annotations

from typing import Any

from core.jobs import Actor
from core.preferences import Scope
from tests.fakes.discord import Person
from tests.fakes.discord import payloads as p
from tests.fakes.slack import payloads as sp
from tests.integration.discord import conftest as discord_fixtures
from tests.integration.discord.conftest import EPHEMERAL, Env, png
from tests.integration.reliability.test_admin_paths import (
    NOT_ADMIN,
    NOT_THEIRS,
    OTHER,
    all_settled,
    discord_state,
    is_done,
    said,
    slack_state,
)
from tests.integration.slack import conftest as slack_fixtures
from tests.integration.slack.harness import ANN, BOSS, CHANNEL, TEAM, SlackStack
from tests.integration.slack.harness import png as slack_png

env = discord_fixtures.env
fake, db_path = slack_fixtures.fake, slack_fixtures.db_path
slack_stack = slack_fixtures.stack


async def _private(env: Env, payload: dict[str, Any]) -> str:
    issued = await env.fake.send_interaction(payload)
    callback = await env.callback(issued)
    assert callback.json["type"] == 4 and callback.json["data"]["flags"] & EPHEMERAL
    return str(callback.json["data"]["content"])


async def _settings(env: Env, who: Person, scope: Scope) -> str:
    """What is kept: the person's own settings, or the workspace's."""
    actor = Actor("discord", env.fake.guild_id, who.id)
    settings = await env.bots[0].app.engine.preferences.settings(actor)
    return repr(settings.own if scope == "user" else settings.workspace)


async def test_discord_imagine_buttons_are_the_requesters(env: Env) -> None:
    await env.start_bot()
    image = env.fake.host_file("scene.png", png(), "image/png")
    described = await env.slash(
        env.alice,
        "describe",
        options=[p.option("image", p.ATTACHMENT_OPTION, image["id"])],
        attachments=[image],
    )
    await env.final_edit(described)
    await all_settled(env)
    message = env.fake.original(described)
    buttons = env.fake.button_ids(message)

    for label in ("Imagine 1", "Imagine 4"):
        before, submits = await discord_state(env), len(env.sim.submits)
        refused = await _private(env, env.fake.click(env.bob, message, buttons[label]))
        assert NOT_THEIRS in refused, label
        assert await discord_state(env) == before and len(env.sim.submits) == submits

    for person in (env.alice, env.mod):  # the requester, and an admin
        pressed = await env.fake.send_interaction(
            env.fake.click(person, message, buttons["Imagine 1"])
        )
        await env.final_edit(pressed)
    assert [e for e, _ in env.sim.submits[1:]] == ["fal-ai/flux/schnell"] * 2


async def test_discord_settings_menus_change_the_pressers_own_or_need_an_admin(env: Env) -> None:
    await env.start_bot()
    opened = await env.slash(env.mod, "settings", options=[p.option("workspace", 5, True)])
    await env.callback(opened)
    panel = env.fake.original(opened)
    ids = env.fake.button_ids(panel)  # (labels of buttons; menus are found by custom_id)
    aspect = "falbot:set:ws:aspect_ratio"

    before = await _settings(env, env.bob, "workspace")
    refused = await _private(env, env.fake.choose(env.bob, panel, aspect, ["9:16"]))
    assert NOT_ADMIN in refused
    refused = await _private(env, env.fake.click(env.bob, panel, ids["Reset the workspace's"]))
    assert NOT_ADMIN in refused
    assert await _settings(env, env.bob, "workspace") == before

    mine = await env.slash(env.alice, "settings")
    await env.callback(mine)
    alices = env.fake.original(mine)
    # Bob answering a copy of Alice's own panel changes Bob's settings, never Alice's.
    chosen = await env.fake.send_interaction(
        env.fake.choose(env.bob, alices, "falbot:set:me:aspect_ratio", ["4:3"])
    )
    assert (await env.callback(chosen)).json["type"] == 7
    assert "4:3" in await _settings(env, env.bob, "user")
    assert "4:3" not in await _settings(env, env.alice, "user")


async def test_slack_imagine_buttons_and_workspace_menus(slack_stack: SlackStack) -> None:
    stack, fake = slack_stack, slack_stack.fake
    fake.add_user(OTHER, name="other")
    photo = fake.add_file(slack_png(), name="scene.png", mimetype="image/png")
    await stack.command("/describe", "")
    await fake.wait_for("views.open")
    values = {"image": {"image_input": sp.file_input([photo])}}
    await stack.interaction(sp.view_submission(fake.views[-1], values, team_id=TEAM, user_id=ANN))
    update = await fake.wait_for("chat.update", is_done)
    await stack.wait_delivered(ANN)
    message = fake.message(CHANNEL, update.params["ts"])
    assert message is not None

    async def press(user: str, action_id: str = "falbot_imagine_2") -> None:
        await stack.interaction(
            sp.block_actions(
                sp.button_action(message, action_id),
                message=message,
                team_id=TEAM,
                user_id=user,
                channel_id=CHANNEL,
                response_url=fake.response_url(),
            )
        )

    before, submits = await slack_state(stack), len(stack.sim.submits)
    await press(OTHER)
    refused = await fake.wait_for("response_url")
    assert NOT_THEIRS in said(refused)
    assert await slack_state(stack) == before and len(stack.sim.submits) == submits
    await press(BOSS)  # an admin may
    await fake.wait_for("chat.update", is_done, count=2)

    # A workspace menu answered by a member: refused, nothing kept.
    select = {
        "type": "static_select",
        "action_id": "falbot_set_ws_aspect_ratio",
        "block_id": "falbot_settings",
        "selected_option": {"text": {"type": "plain_text", "text": "9:16"}, "value": "9:16"},
    }
    answers = len(fake.calls_to("response_url"))
    await stack.interaction(
        sp.block_actions(
            select,
            message={"ts": "1700000500.000100", "blocks": []},
            team_id=TEAM,
            user_id=OTHER,
            channel_id=CHANNEL,
            response_url=fake.response_url(),
        )
    )
    refused = await fake.wait_for("response_url", count=answers + 1)
    assert NOT_ADMIN in said(refused)
    boss = Actor("slack", TEAM, BOSS)
    assert (await stack.engine.preferences.settings(boss)).workspace.aspect_ratio is None
