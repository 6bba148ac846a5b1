"""/models, /quota, /usage, /jobs, /cancel and model autocomplete; DMs use the user's own bucket."""

from __future__ import annotations

import pytest

from core.jobs import Actor
from tests.fakes.discord import Person, Recorded
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import EPHEMERAL, Env


async def _private_answer(env: Env, person: Person, name: str, **kw: object) -> str:
    answer = await env.callback(await env.slash(person, name, **kw))  # type: ignore[arg-type]
    assert answer.json["type"] == 4
    assert answer.json["data"]["flags"] & EPHEMERAL
    return str(answer.json["data"]["content"])


async def _complete(
    env: Env, person: Person, name: str, options: list[dict[str, object]]
) -> Recorded:
    payload = env.fake.slash(person, name, options=options, autocomplete=True)
    return await env.callback(await env.fake.send_interaction(payload))


async def test_models_lists_what_the_guild_allows(env: Env) -> None:
    await env.start_bot()
    assert "`nano-banana-edit` (edit)" in await _private_answer(env, env.alice, "models")

    await env.callback(
        await env.slash(
            env.mod,
            "admin",
            options=[
                p.subcommand_group(
                    "models", p.subcommand("deny", [p.option("model", p.STRING, "veo3")])
                )
            ],
        )
    )

    listed = await _private_answer(env, env.alice, "models")
    assert "`veo3`" not in listed and "`sora-2`" in listed


async def test_model_autocomplete_is_narrowed_to_kind_and_policy(env: Env) -> None:
    await env.start_bot()
    await env.callback(
        await env.slash(
            env.mod,
            "admin",
            options=[
                p.subcommand_group(
                    "models", p.subcommand("deny", [p.option("model", p.STRING, "flux-dev")])
                )
            ],
        )
    )

    answer = await _complete(
        env,
        env.alice,
        "imagine",
        [p.option("prompt", p.STRING, "x"), p.option("model", p.STRING, "fl", focused=True)],
    )

    assert answer.json["type"] == 8
    assert [c["value"] for c in answer.json["data"]["choices"]] == ["flux-schnell"]
    video = await _complete(
        env, env.alice, "video", [p.option("model", p.STRING, "", focused=True)]
    )
    assert {c["value"] for c in video.json["data"]["choices"]} == {"wan-2.5", "veo3", "sora-2"}


async def test_quota_jobs_and_usage_are_private(env: Env) -> None:
    await env.start_bot()
    assert "costs 0.3 credits ($0.003): you have enough now" in await _private_answer(
        env, env.alice, "quota"
    )
    assert "no jobs yet" in await _private_answer(env, env.alice, "jobs")
    issued = await env.slash(env.alice, "imagine", options=[p.option("prompt", p.STRING, "x")])
    await env.final_edit(issued)

    jobs = await _private_answer(env, env.alice, "jobs")
    usage = await env.callback(
        await env.slash(env.alice, "usage", options=[p.option("period", 4, 7)])
    )

    assert "flux-schnell · delivered" in jobs
    assert usage.json["data"]["flags"] & EPHEMERAL
    assert "Spend by you" in usage.json["data"]["content"]
    assert "1 job." in usage.json["data"]["content"]
    assert [f.filename[-4:] for f in usage.files] == [".png"]  # the chart of spend per day


async def test_cancel_a_waiting_job_returns_its_credits(env: Env) -> None:
    await env.start_bot()
    env.sim.hold_queue = True  # waiting in fal's queue: fal has not started it
    issued = await env.slash(env.alice, "imagine", options=[p.option("prompt", p.STRING, "x")])
    await env.sim.wait_for(lambda: len(env.sim.requests) == 1)
    choices = await _complete(
        env, env.alice, "cancel", [p.option("job", p.STRING, "", focused=True)]
    )
    job_id = choices.json["data"]["choices"][0]["value"]

    said = await _private_answer(
        env, env.alice, "cancel", options=[p.option("job", p.STRING, job_id)]
    )

    assert "Cancelling job" in said
    failed = await env.fake.wait_for(
        lambda r: (
            r.method == "PATCH" and issued.token in r.path and "Cancelled" in r.json["content"]
        )
    )
    assert "Cancelled before it started" in failed.json["content"]
    assert "credits were returned" in failed.json["content"]
    (request,) = env.sim.requests.values()
    assert request.cancelled_while == "IN_QUEUE"


async def test_cancel_a_running_job_charges_it(env: Env) -> None:
    await env.start_bot()
    env.sim.hold = True  # running at fal: fal bills it, cancelled or not
    issued = await env.slash(env.alice, "imagine", options=[p.option("prompt", p.STRING, "x")])
    await env.sim.wait_for(lambda: env.sim.running == 1)
    choices = await _complete(
        env, env.alice, "cancel", [p.option("job", p.STRING, "", focused=True)]
    )
    job_id = choices.json["data"]["choices"][0]["value"]

    await _private_answer(env, env.alice, "cancel", options=[p.option("job", p.STRING, job_id)])

    failed = await env.fake.wait_for(
        lambda r: (
            r.method == "PATCH" and issued.token in r.path and "Cancelled" in r.json["content"]
        )
    )
    assert "fal had started it, so it costs $0.003" in failed.json["content"]
    assert "This job was charged" in failed.json["content"]


async def test_commands_in_a_dm_use_the_users_own_bucket(env: Env) -> None:
    bot = await env.start_bot(settings={"FALBOT_DISCORD_DMS": "own"})

    said = await _private_answer(env, env.alice, "quota", dm=True)
    issued = await env.slash(
        env.alice, "imagine", options=[p.option("prompt", p.STRING, "x")], dm=True
    )
    await env.final_edit(issued)

    assert "You have" in said
    mine = await bot.app.engine.jobs(Actor("discord", f"dm:{env.alice.id}", env.alice.id), limit=5)
    in_guild = await bot.app.engine.jobs(Actor("discord", env.fake.guild_id, env.alice.id), limit=5)
    assert len(mine) == 1 and in_guild == []


async def test_a_crash_is_answered_with_the_one_internal_error(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Discord, Slack and the console say the same thing when falbot itself fails (Discord's
    commands said "Try again in a moment." where Slack said to tell an admin)."""
    bot = await env.start_bot()

    async def broken(workspace_id: str) -> list[object]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(bot.app.engine, "models", broken)
    said = await _private_answer(env, env.alice, "models")
    assert "Something went wrong on my side." in said
    assert "if it keeps happening, tell an admin" in said
    assert "a bug" not in said and "RuntimeError" not in said
