"""What people read on Discord (issue 10, items 14-18), through discord.py against the fake:
mentions and names instead of ids, one wait with Discord's own clock time, money never shown as
$0.00, options as the slash command names them, fal's failures in plain words."""

from __future__ import annotations

import io
import re

from PIL import Image

from adapters.fal.sim.faults import Fault
from tests.fakes.discord import Issued, Person
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import EPHEMERAL, Env

_DISCORD_TIME = re.compile(r"Try again in (\d+ h )?\d+ min \(<t:\d+:[tf]>\)\.")


async def _answer(env: Env, person: Person, name: str, **kw: object) -> str:
    answer = await env.callback(await env.slash(person, name, **kw))  # type: ignore[arg-type]
    assert answer.json["type"] == 4 and answer.json["data"]["flags"] & EPHEMERAL
    return str(answer.json["data"]["content"])


async def _admin(env: Env, person: Person, *path: str, options: list[object], **kw: object) -> str:
    sub = p.subcommand(path[-1], options)
    top = p.subcommand_group(path[0], sub) if len(path) == 2 else sub
    return await _answer(env, person, "admin", options=[top], **kw)


async def _imagine(env: Env, person: Person, model: str = "nano-banana", **extra: object) -> Issued:
    options = [p.option("prompt", p.STRING, "a cat"), p.option("model", p.STRING, model)]
    options += [p.option(k, 4, v) for k, v in extra.items()]
    return await env.slash(person, "imagine", options=options)


async def test_admin_replies_and_usage_mention_people_and_the_chart_names_them(env: Env) -> None:
    await env.start_bot()
    await env.final_edit(await _imagine(env, env.alice))

    banned = await _admin(
        env,
        env.mod,
        "ban",
        options=[p.option("user", 6, env.bob.id)],
        resolved=env.fake.resolved_member(env.bob),
    )
    assert banned == f"<@{env.bob.id}> can no longer use falbot here."

    usage = await env.callback(
        await env.slash(env.mod, "admin", options=[p.subcommand("usage", [])])
    )
    content = usage.json["data"]["content"]
    assert f"  <@{env.alice.id}>: $0.039" in content
    assert env.alice.id not in content.replace(f"<@{env.alice.id}>", "")
    (chart,) = usage.files
    with Image.open(io.BytesIO(chart.data)) as image:
        title, table = image.text["Title"], image.text["Description"]
    assert "· Test Guild ·" in title  # the server's name, not its id
    assert env.fake.guild_id not in title
    assert "Alice · 1 · $0.039" in table.splitlines()  # by name: Discord was asked for it
    assert env.alice.id not in table


async def test_a_refusal_says_its_wait_once_with_discords_clock_and_quota_agrees(
    env: Env,
) -> None:
    await env.start_bot()
    await _admin(
        env,
        env.mod,
        "quota",
        "set",
        options=[
            p.option("target", 9, env.alice.id),
            p.option("capacity", p.STRING, "5"),
            p.option("refill_per_hour", p.STRING, "60"),
        ],
        resolved=env.fake.resolved_member(env.alice),
    )
    await env.final_edit(await _imagine(env, env.alice))  # 3.9 of 5 credits
    refused = await env.callback(await _imagine(env, env.alice))
    content = refused.json["data"]["content"]

    assert "This job needs 3.9 credits and you have 1.1 credits." in content
    assert _DISCORD_TIME.search(content), content  # 2.8 credits at 60 an hour: 3 min
    assert content.count("Try again") == 1 and " s;" not in content

    quota = await _answer(env, env.alice, "quota")
    assert "Your next job fits now" not in quota
    assert "One image with flux-schnell costs 0.3 credits ($0.003): you have enough now." in quota


async def test_money_that_is_not_zero_never_reads_as_zero(env: Env) -> None:
    await env.start_bot()
    said = await _admin(
        env,
        env.mod,
        "budget",
        "set",
        options=[
            p.option("daily_usd", p.STRING, "0.004"),
            p.option("monthly_usd", p.STRING, "none"),
        ],
    )
    assert said == "Budget: $0.004 a day, no limit a month."
    refused = await env.callback(await _imagine(env, env.alice))
    content = refused.json["data"]["content"]
    assert "Budget reached" in content
    assert "daily budget of $0.004 is used up" in content
    assert "$0.004 is left and this job needs about $0.039." in content  # not $0.00


async def test_validation_and_models_name_options_as_the_slash_command_does(env: Env) -> None:
    await env.start_bot()
    options = [
        p.option("prompt", p.STRING, "waves"),
        p.option("model", p.STRING, "veo3"),
        p.option("duration", 4, 5),
    ]
    said = await _answer(env, env.alice, "video", options=options)
    assert "`duration` must be 4|6|8, not `5`." in said
    assert "`--" not in said

    models = await _answer(env, env.alice, "models")
    assert "`count` 1–4" in models and "`aspect` 16:9|9:16" in models
    assert "num_images" not in models and "`--" not in models


async def test_a_fal_failure_is_told_in_plain_words_with_the_request_id_as_a_detail(
    env: Env,
) -> None:
    await env.start_bot()
    env.sim.fail_endpoint("fal-ai/nano-banana", Fault.server_error("runner_scheduling_failure"))
    issued = await _imagine(env, env.alice)
    final = await env.fake.wait_for(
        lambda r: (
            r.method == "PATCH"
            and issued.token in r.path
            and "Your credits were returned" in str((r.json or {}).get("content"))
        ),
        timeout=10.0,
    )
    content = (final.json or {})["content"]
    assert "The model's servers were busy." in content
    assert "Your credits were returned." in content
    assert "runner_scheduling_failure" not in content
    details = [line for line in content.splitlines() if "fal request" in line]
    assert len(details) == 1 and details[0].startswith("-# Details: fal request `")
