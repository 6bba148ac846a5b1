"""Admin commands: refused without Manage Server or the admin role, checked on every call; a
quota set applies to the user's next job; an exhausted quota answers privately with when to
retry, and no job starts."""

from __future__ import annotations

from typing import Any

from core.jobs import Actor
from core.nsfw import NsfwMode
from tests.fakes.discord import Issued, Person, Recorded
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import EPHEMERAL, Env


async def _admin(env: Env, person: Person, *path: str, options: list[Any], **kw: Any) -> Recorded:
    """Run `/admin <path...>` and return its (only) answer."""
    sub = p.subcommand(path[-1], options)
    top = p.subcommand_group(path[0], sub) if len(path) == 2 else sub
    issued = await env.slash(person, "admin", options=[top], **kw)
    return await env.callback(issued)


async def _quota_set(env: Env, person: Person, target: Person, capacity: str, refill: str) -> str:
    answer = await _admin(
        env,
        person,
        "quota",
        "set",
        options=[
            p.option("target", 9, target.id),
            p.option("capacity", p.STRING, capacity),
            p.option("refill_per_hour", p.STRING, refill),
        ],
        resolved=env.fake.resolved_member(target),
    )
    assert answer.json["type"] == 4 and answer.json["data"]["flags"] & EPHEMERAL
    return str(answer.json["data"]["content"])


async def _imagine(env: Env, person: Person) -> Issued:
    options = [p.option("prompt", p.STRING, "a cat"), p.option("model", p.STRING, "nano-banana")]
    return await env.slash(person, "imagine", options=options)


async def test_admin_commands_need_manage_server_or_the_admin_role(env: Env) -> None:
    await env.start_bot()

    refused = await _quota_set(env, env.bob, env.alice, "5", "1")
    by_manager = await _quota_set(env, env.mod, env.alice, "5", "1")
    by_role = await _quota_set(env, env.helper, env.alice, "6", "1")

    assert "Only falbot admins" in refused
    assert f"Quota for <@{env.alice.id}>: 5 credits" in by_manager
    assert f"Quota for <@{env.alice.id}>: 6 credits" in by_role


async def test_the_admin_check_is_made_on_every_call(env: Env) -> None:
    await env.start_bot()
    assert "Quota for <@" in await _quota_set(env, env.helper, env.alice, "5", "1")

    demoted = Person(env.helper.user, roles=())  # the admin role was taken away
    assert "Only falbot admins" in await _quota_set(env, demoted, env.alice, "7", "1")
    answer = await _admin(
        env,
        env.mod,
        "quota",
        "show",
        options=[p.option("target", 6, env.alice.id)],
        resolved=env.fake.resolved_member(env.alice),
    )
    assert "of 5 credits" in answer.json["data"]["content"]


async def test_a_quota_set_applies_to_the_next_job_and_exhaustion_is_private(env: Env) -> None:
    bot = await env.start_bot()
    # nano-banana costs $0.039 = 3.9 credits: one fits in 5, then the bucket waits.
    await _quota_set(env, env.mod, env.alice, "5", "1")

    first = await _imagine(env, env.alice)
    await env.final_edit(first)
    second = await _imagine(env, env.alice)

    answer = await env.callback(second)
    assert answer.json["type"] == 4 and answer.json["data"]["flags"] & EPHEMERAL
    content = answer.json["data"]["content"]
    assert "Out of credits" in content
    assert "Try again in" in content
    assert len(env.sim.submits) == 1  # no job started
    jobs = await bot.app.engine.jobs(Actor("discord", env.fake.guild_id, env.alice.id), limit=5)
    assert len(jobs) == 1
    # bob keeps the default quota
    third = await _imagine(env, env.bob)
    await env.final_edit(third)


async def test_models_deny_and_allow(env: Env) -> None:
    await env.start_bot()
    deny = await _admin(
        env, env.mod, "models", "deny", options=[p.option("model", p.STRING, "nano-banana")]
    )
    assert "no longer allowed" in deny.json["data"]["content"]

    refused = await env.callback(await _imagine(env, env.alice))
    assert refused.json["data"]["flags"] & EPHEMERAL
    assert "not allowed" in refused.json["data"]["content"]

    await _admin(
        env, env.mod, "models", "allow", options=[p.option("model", p.STRING, "nano-banana")]
    )
    await env.final_edit(await _imagine(env, env.alice))


async def test_ban_budget_refund_and_usage(env: Env) -> None:
    await env.start_bot()
    first = await _imagine(env, env.alice)
    await env.final_edit(first)

    usage = await _admin(env, env.mod, "usage", options=[p.option("csv", 5, True)])
    assert usage.json["data"]["flags"] & EPHEMERAL
    assert "Spend by everyone" in usage.json["data"]["content"]
    chart, table = usage.files
    assert chart.filename.endswith(".png") and chart.data.startswith(b"\x89PNG")
    assert table.filename.endswith(".csv")
    assert env.alice.id in table.data.decode() and "nano-banana" in table.data.decode()

    job_id = env.fake.button_ids(env.fake.original(first))["Rerun"].rsplit(":", 1)[1]
    refund = await _admin(env, env.mod, "refund", options=[p.option("job", p.STRING, job_id)])
    assert "Refunded $0.039" in refund.json["data"]["content"]

    budget = await _admin(
        env,
        env.helper,
        "budget",
        "set",
        options=[p.option("daily_usd", p.STRING, "5"), p.option("monthly_usd", p.STRING, "none")],
    )
    assert "Budget: $5.00 a day, no limit a month." in budget.json["data"]["content"]

    ban = await _admin(
        env,
        env.mod,
        "ban",
        options=[p.option("user", 6, env.bob.id)],
        resolved=env.fake.resolved_member(env.bob),
    )
    assert "can no longer use falbot" in ban.json["data"]["content"]
    refused = await env.callback(await _imagine(env, env.bob))
    assert refused.json["data"]["flags"] & EPHEMERAL
    assert "not allowed to use falbot" in refused.json["data"]["content"]


async def test_a_role_quota_applies_to_members_with_that_role(env: Env) -> None:
    await env.start_bot()
    artists = await env.fake.create_role("Artists")
    carol = env.fake.add_person("carol", roles=[artists])

    answer = await _admin(
        env,
        env.mod,
        "quota",
        "set",
        options=[
            p.option("target", 9, artists),
            p.option("capacity", p.STRING, "42"),
            p.option("refill_per_hour", p.STRING, "7"),
        ],
        resolved=env.fake.resolved_role(artists),
    )
    assert f"Quota for the role <@&{artists}>: 42 credits" in answer.json["data"]["content"]

    quota = await env.callback(await env.slash(carol, "quota"))
    assert "of 42 credits" in quota.json["data"]["content"]
    others = await env.callback(await env.slash(env.bob, "quota"))
    assert "of 42 credits" not in others.json["data"]["content"]


async def _nsfw(env: Env, person: Person, mode: str) -> str:
    answer = await _admin(env, person, "nsfw", options=[p.option("mode", p.STRING, mode)])
    assert answer.json["type"] == 4 and answer.json["data"]["flags"] & EPHEMERAL
    return str(answer.json["data"]["content"])


async def _flagged_result(env: Env, person: Person) -> Recorded:
    """An /imagine whose output the fal simulator flags (its prompt holds the marker)."""
    options = [p.option("prompt", p.STRING, "an nsfw cat"), p.option("model", p.STRING, "flux-dev")]
    return await env.final_edit(await env.slash(person, "imagine", options=options))


async def test_admin_nsfw_offers_the_three_modes_to_discord(env: Env) -> None:
    await env.start_bot()
    admin = env.fake.command("admin")
    nsfw = next(o for o in admin["options"] if o["name"] == "nsfw")
    (mode,) = nsfw["options"]
    assert mode["required"] is True
    assert [c["value"] for c in mode["choices"]] == ["withhold", "spoiler", "allow"]


async def test_admin_nsfw_sets_what_happens_to_flagged_outputs(env: Env) -> None:
    bot = await env.start_bot()
    withheld = await _flagged_result(env, env.alice)  # the default: withheld
    assert withheld.files == []
    assert "1 output(s) withheld" in withheld.json["content"]

    said = await _nsfw(env, env.mod, "spoiler")
    assert "shown behind a spoiler" in said
    spoilered = await _flagged_result(env, env.alice)
    (file,) = spoilered.files
    assert file.filename.startswith("SPOILER_") and file.data.startswith(b"\x89PNG")
    assert "withheld" not in spoilered.json["content"]

    assert "are shown outside" in await _nsfw(env, env.helper, "allow")
    shown = await _flagged_result(env, env.alice)
    assert [f.filename.startswith("SPOILER_") for f in shown.files] == [False]
    assert (await bot.app.store.policy(env.fake.guild_id)).nsfw is NsfwMode.ALLOW


async def test_admin_nsfw_refuses_a_member_and_a_bad_mode_and_changes_nothing(env: Env) -> None:
    bot = await env.start_bot()
    await _nsfw(env, env.mod, "spoiler")

    refused = await _nsfw(env, env.bob, "allow")
    assert "Only falbot admins" in refused
    # Discord offers only the choices, but a client can send any string.
    bad = await _nsfw(env, env.mod, "sometimes")
    assert "`sometimes` is not an NSFW mode" in bad
    assert "withhold, spoiler or allow" in bad

    assert (await bot.app.store.policy(env.fake.guild_id)).nsfw is NsfwMode.SPOILER


async def test_a_lowered_quota_refuses_the_next_job_of_a_user_with_credits_left(env: Env) -> None:
    await env.start_bot()
    first = await _imagine(env, env.alice)  # 3.9 of alice's 100 default credits
    await env.final_edit(first)

    await _quota_set(env, env.mod, env.alice, "1", "0")
    refused = await env.callback(await _imagine(env, env.alice))

    assert refused.json["type"] == 4, "the job was admitted"
    assert "Out of credits" in refused.json["data"]["content"]
    assert len(env.sim.submits) == 1
    shown = await _admin(
        env,
        env.mod,
        "quota",
        "show",
        options=[p.option("target", 6, env.alice.id)],
        resolved=env.fake.resolved_member(env.alice),
    )
    content = shown.json["data"]["content"]
    assert "1.00 of 1 credits" in content and "96.10" not in content
