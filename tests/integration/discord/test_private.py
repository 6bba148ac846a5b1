"""Private mode on Discord, through discord.py against the fake Discord and fal-client against
the simulator: progress, result and failure are ephemeral (a DM once the interaction token is
gone), nothing public is ever posted, a result's buttons stay private, fal gets the retention
headers, and a workspace that forbids private mode refuses private jobs in clear words."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from adapters.fal.sim.faults import Fault
from bot.run import serving, sync_commands
from tests.browser import Browser
from tests.fakes.discord import Issued, Person, Recorded
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import EPHEMERAL, Env, ShiftedClock
from tests.integration.discord.test_region_painter import painter_settings
from tests.painting import LINK, paint_and_submit

BOOLEAN = 5  # Discord's option type


def _private(prompt: str = "a secret fox") -> list[dict[str, Any]]:
    return [p.option("prompt", p.STRING, prompt), p.option("private", BOOLEAN, True)]


def _public_messages(env: Env) -> list[dict[str, Any]]:
    """Every message the bot made that someone other than its requester could see: not
    ephemeral, and in the guild (a DM is the requester's own)."""
    return [
        m
        for m in env.fake.messages.values()
        if m["author"]["id"] == env.fake.bot["id"]
        and not m.get("flags", 0) & EPHEMERAL
        and m.get("guild_id")
    ]


def _retention_headers(env: Env) -> list[str | None]:
    return [r.fal_headers.get("x-fal-store-io") for r in env.sim.requests.values()]


async def _admin_private(env: Env, person: Person, mode: str) -> Recorded:
    sub = p.subcommand("private", [p.option("mode", p.STRING, mode)])
    return await env.callback(await env.slash(person, "admin", options=[sub]))


async def test_a_private_job_is_shown_only_to_its_requester_at_every_step(env: Env) -> None:
    await env.start_bot()
    env.sim.hold = True

    issued = await env.slash(env.alice, "imagine", options=_private())

    callback = await env.callback(issued)
    assert callback.json["type"] == 5 and callback.json["data"]["flags"] & EPHEMERAL
    await env.fake.wait_for(
        lambda r: r.method == "PATCH" and issued.token in r.path and "running" in r.json["content"]
    )
    await env.release_when_running()
    final = await env.final_edit(issued)
    assert len(final.files) == 1
    assert env.fake.original(issued)["flags"] & EPHEMERAL
    assert all(r.route != "POST /channels/{channel}/messages" for r in env.fake.requests)
    assert _public_messages(env) == []
    assert _retention_headers(env) == ["0"]


async def test_a_private_failure_is_shown_only_to_its_requester(env: Env) -> None:
    await env.start_bot()
    env.sim.fail_next(Fault.server_error("runner_scheduling_failure"))

    issued = await env.slash(env.alice, "imagine", options=_private())

    failed = await env.fake.wait_for(
        lambda r: r.method == "PATCH" and issued.token in r.path and "❌" in r.json["content"]
    )
    assert failed.status == 200
    assert env.fake.original(issued)["flags"] & EPHEMERAL
    assert _public_messages(env) == []
    assert _retention_headers(env) == ["0"]


async def test_a_button_on_a_private_result_makes_a_private_job(env: Env) -> None:
    await env.start_bot()
    issued = await env.slash(env.alice, "imagine", options=_private())
    await env.final_edit(issued)
    message = env.fake.original(issued)

    rerun = await env.fake.send_interaction(
        env.fake.click(env.alice, message, env.fake.button_ids(message)["Rerun"])
    )

    callback = await env.callback(rerun)
    assert callback.json["type"] == 5 and callback.json["data"]["flags"] & EPHEMERAL
    await env.final_edit(rerun)
    assert _public_messages(env) == []
    assert _retention_headers(env) == ["0", "0"]


async def test_a_private_job_past_its_token_ends_in_a_dm_not_the_channel(env: Env) -> None:
    lifetime = timedelta(seconds=30)
    clock = ShiftedClock()
    await env.start_bot(adapter_clock=clock, token_lifetime=lifetime, token_margin=timedelta(0))
    env.sim.hold = True
    issued = await env.slash(env.alice, "imagine", options=_private())
    await env.fake.wait_for(
        lambda r: r.method == "PATCH" and issued.token in r.path and r.status == 200
    )

    clock.offset = lifetime + timedelta(seconds=1)
    env.fake.expire(issued)
    await env.release_when_running()

    dm = env.fake.dm_channel(env.alice)
    result = await env.fake.wait_for(
        lambda r: (
            r.route == "POST /channels/{channel}/messages"
            and r.status == 200
            and bool((r.json or {}).get("components"))
        ),
        timeout=10,
    )
    assert result.path.startswith(f"/channels/{dm['id']}/messages")
    assert len(result.files) == 1
    assert _public_messages(env) == []


async def test_a_public_job_sends_no_retention_header(env: Env) -> None:
    await env.start_bot()
    issued = await env.slash(env.alice, "imagine", options=[p.option("prompt", p.STRING, "fox")])
    await env.final_edit(issued)
    assert _retention_headers(env) == [None]
    assert len(_public_messages(env)) == 1  # what the check above would have caught


async def test_admins_forbid_private_mode_and_private_jobs_are_refused(env: Env) -> None:
    await env.start_bot()
    said = await _admin_private(env, env.mod, "forbid")
    assert said.json["data"]["flags"] & EPHEMERAL
    assert said.json["data"]["content"] == (
        "Private mode is forbidden here: every result is shown in its channel."
    )
    refused: Issued = await env.slash(env.alice, "imagine", options=_private())

    answer = await env.callback(refused)

    assert answer.json["type"] == 4 and answer.json["data"]["flags"] & EPHEMERAL
    content = answer.json["data"]["content"]
    assert "Private mode is turned off in this workspace by its admins" in content
    assert "/admin private allow" in content
    assert env.sim.submits == []

    await _admin_private(env, env.mod, "allow")
    allowed = await env.slash(env.alice, "imagine", options=_private())
    await env.final_edit(allowed)
    assert _retention_headers(env) == ["0"]


async def test_only_admins_set_private_mode(env: Env) -> None:
    await env.start_bot()
    said = await _admin_private(env, env.alice, "forbid")
    assert "Only falbot admins can do that." in said.json["data"]["content"]


async def test_a_private_quote_and_its_confirmed_job_stay_private(env: Env) -> None:
    await env.start_bot(settings={"FALBOT_CONFIRM_ABOVE_USD": Decimal("0.20")})
    options = [p.option("prompt", p.STRING, "waves"), p.option("private", BOOLEAN, True)]
    issued = await env.slash(env.alice, "video", options=options)
    quote = await env.callback(issued)
    assert quote.json["type"] == 4 and quote.json["data"]["flags"] & EPHEMERAL
    message = env.fake.original(issued)

    confirm = await env.fake.send_interaction(
        env.fake.click(env.alice, message, env.fake.button_ids(message)["Confirm $0.50"])
    )

    callback = await env.callback(confirm)
    assert callback.json["type"] == 5 and callback.json["data"]["flags"] & EPHEMERAL
    await env.final_edit(confirm)
    assert _public_messages(env) == []
    assert _retention_headers(env) == ["0"]


async def test_edit_region_on_a_private_result_answers_in_a_dm(env: Env, browser: Browser) -> None:
    """The region painter's job from a private result is private too: it comes back in a DM,
    never in the channel, and fal gets the retention header."""
    settings = painter_settings(env)
    assert await sync_commands(settings, guild=None) == 0
    async with serving(settings):
        issued = await env.slash(env.alice, "imagine", options=_private("a lighthouse"))
        await env.final_edit(issued)
        message = env.fake.original(issued)
        assert message["flags"] & EPHEMERAL
        click = env.fake.click(env.alice, message, env.fake.button_ids(message)["Edit region"])
        answer = await env.callback(await env.fake.send_interaction(click))
        url = LINK.search(answer.json["data"]["content"])
        assert url is not None

        said = await paint_and_submit(browser, url[0], prompt="snow", shots="painter-private")
        assert said.startswith("Done"), said
        dm = env.fake.dm_channel(env.alice)
        posted = await env.fake.wait_for(
            lambda r: r.path.startswith(f"/channels/{dm['id']}/messages") and bool(r.files),
            timeout=10,
        )
    assert posted.status == 200
    assert _public_messages(env) == []
    assert _retention_headers(env) == ["0", "0"]
