"""FALBOT_DISCORD_DMS: `off` (the default) answers a DM with where to use the bot; `home:<guild>`
makes a DM count as that guild's workspace, for its members only (membership asked of Discord's
GET /guilds/{id}/members/{user}); `own` keeps a bucket per user (test_account covers it)."""

from __future__ import annotations

from core.jobs import Actor
from tests.fakes.discord import Person, Recorded
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import EPHEMERAL, Env


def _home(env: Env) -> dict[str, str]:
    return {"FALBOT_DISCORD_DMS": f"home:{env.fake.guild_id}"}


async def _dm_imagine(env: Env, person: Person) -> Recorded:
    options = [p.option("prompt", p.STRING, "a fox"), p.option("model", p.STRING, "flux-dev")]
    issued = await env.slash(person, "imagine", options=options, dm=True)
    return await env.callback(issued)


def _ephemeral(answer: Recorded) -> str:
    assert answer.json["type"] == 4, answer.json
    assert answer.json["data"]["flags"] & EPHEMERAL
    return str(answer.json["data"]["content"])


async def _all_jobs(env: Env, person: Person) -> list[object]:
    engine = env.bots[0].app.engine
    jobs = []
    for workspace in (env.fake.guild_id, f"dm:{person.id}"):
        jobs += await engine.jobs(Actor("discord", workspace, person.id), limit=10)
    return jobs


async def test_dms_are_off_by_default_and_say_where_to_use_the_bot(env: Env) -> None:
    await env.start_bot()

    said = _ephemeral(await _dm_imagine(env, env.alice))
    quota = _ephemeral(await env.callback(await env.slash(env.alice, "quota", dm=True)))
    await env.fake.post_message(env.alice, "make it blue", dm=True)
    note = await env.fake.wait_for(lambda r: r.route == "POST /channels/{channel}/messages")

    for text in (said, quota, note.json["content"]):
        assert "direct messages" in text and "server channel" in text
    assert env.sim.submits == []
    assert await _all_jobs(env, env.alice) == []


async def test_home_dms_count_against_the_guilds_workspace(env: Env) -> None:
    bot = await env.start_bot(settings=_home(env))
    in_guild = Actor("discord", env.fake.guild_id, env.alice.id)
    before = (await bot.app.engine.quota(in_guild)).level

    answer = await _dm_imagine(env, env.alice)
    assert answer.json["type"] == 5  # admitted: "thinking…"

    member_lookups = [
        r for r in env.fake.requests if r.route == "GET /guilds/{guild}/members/{user}"
    ]
    assert member_lookups and member_lookups[-1].path.endswith(f"/members/{env.alice.id}")
    (job,) = await _all_jobs(env, env.alice)
    assert job.workspace_id == env.fake.guild_id  # type: ignore[attr-defined]
    assert (await bot.app.engine.quota(in_guild)).level < before


async def test_home_dms_refuse_a_user_banned_on_the_server(env: Env) -> None:
    bot = await env.start_bot(settings=_home(env))
    await bot.app.store.set_banned(env.fake.guild_id, env.bob.id, True)

    said = _ephemeral(await _dm_imagine(env, env.bob))

    assert "not allowed to use falbot here" in said
    assert env.sim.submits == []
    assert await _all_jobs(env, env.bob) == []


async def test_home_dms_refuse_someone_who_is_not_a_member(env: Env) -> None:
    await env.start_bot(settings=_home(env))
    stranger = env.fake.add_person("stranger", member=False)

    said = _ephemeral(await _dm_imagine(env, stranger))
    await env.fake.post_message(stranger, "make it blue", dm=True)
    note = await env.fake.wait_for(lambda r: r.route == "POST /channels/{channel}/messages")

    for text in (said, note.json["content"]):
        assert "Only members of Test Guild" in text
    assert env.sim.submits == []
    assert await _all_jobs(env, stranger) == []


async def test_home_dm_results_buttons_work_in_the_dm(env: Env) -> None:
    await env.start_bot(settings=_home(env))
    options = [p.option("prompt", p.STRING, "a fox"), p.option("model", p.STRING, "flux-dev")]
    issued = await env.slash(env.alice, "imagine", options=options, dm=True)
    await env.final_edit(issued)

    message = env.fake.original(issued)
    click = env.fake.click(env.alice, message, env.fake.button_ids(message)["Upscale (Subtle)"])
    upscale = await env.fake.send_interaction(click)
    await env.final_edit(upscale)

    assert env.sim.submits[1][0] == "fal-ai/esrgan"
    jobs = await _all_jobs(env, env.alice)
    assert {j.workspace_id for j in jobs} == {env.fake.guild_id}  # type: ignore[attr-defined]


async def test_home_dms_offer_and_allow_only_the_guilds_models(env: Env) -> None:
    bot = await env.start_bot(settings=_home(env))
    await bot.app.store.set_model_denied(env.fake.guild_id, "flux-dev", True)

    options = [p.option("prompt", p.STRING, "x"), p.option("model", p.STRING, "fl", focused=True)]
    payload = env.fake.slash(env.alice, "imagine", options=options, autocomplete=True, dm=True)
    offered = await env.callback(await env.fake.send_interaction(payload))
    refused = _ephemeral(await _dm_imagine(env, env.alice))  # flux-dev, denied on the server

    assert [c["value"] for c in offered.json["data"]["choices"]] == ["flux-schnell"]
    assert "flux-dev" in refused and "not allowed" in refused
    assert env.sim.submits == []
