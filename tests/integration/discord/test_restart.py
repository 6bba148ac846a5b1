"""After a restart (a new client on the same database): a running job's reply is rebuilt from
its saved `reply_ref`, and the buttons on earlier results still work."""

from __future__ import annotations

from adapters.fal.sim.faults import HttpFault
from core.jobs import Actor
from tests.fakes.discord import Issued, Person
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import EPHEMERAL, Bot, Env


async def _imagine(env: Env, person: Person) -> Issued:
    issued = await env.slash(person, "imagine", options=[p.option("prompt", p.STRING, "a fox")])
    await env.final_edit(issued)
    return issued


async def _restart(env: Env, bot: Bot) -> Bot:
    await env.stop_bot(bot)
    return await env.start_bot()


async def _click(env: Env, person: Person, issued: Issued, label: str) -> Issued:
    message = env.fake.original(issued)
    payload = env.fake.click(person, message, env.fake.button_ids(message)[label])
    return await env.fake.send_interaction(payload)


def _actor(env: Env, person: Person) -> Actor:
    return Actor("discord", env.fake.guild_id, person.id)


async def test_a_running_job_reports_to_its_message_after_a_restart(env: Env) -> None:
    bot = await env.start_bot()
    env.sim.hold = True
    issued = await env.slash(env.alice, "imagine", options=[p.option("prompt", p.STRING, "fox")])
    # shown as running: the engine has saved the fal request id by now
    await env.fake.wait_for(
        lambda r: r.method == "PATCH" and issued.token in r.path and "running" in r.json["content"]
    )

    await _restart(env, bot)
    mark = env.fake.mark()
    env.sim.release()

    final = await env.final_edit(issued)
    assert env.fake.requests.index(final) >= mark
    assert len(final.files) == 1
    assert len(env.sim.submits) == 1  # resumed by request id, never sent twice


async def test_a_job_cut_off_while_being_sent_to_fal_is_reported_after_a_restart(
    env: Env,
) -> None:
    bot = await env.start_bot()
    env.sim.inject("submit", HttpFault.slow(30))  # the submit never gets an answer in time
    issued = await env.slash(env.alice, "imagine", options=[p.option("prompt", p.STRING, "fox")])
    await env.sim.wait_for(lambda: env.sim.http_by_route["submit"] == 1)

    # The new engine fails the job while it starts, before the adapter has connected: the
    # message must still reach the user once it has.
    await _restart(env, bot)

    failed = await env.fake.wait_for(
        lambda r: r.method == "PATCH" and issued.token in r.path and "❌" in r.json["content"]
    )
    assert failed.status == 200
    assert "stopped while sending this job to fal" in failed.json["content"]
    assert "credits were returned" in failed.json["content"]


async def test_rerun_after_a_restart_is_a_new_charged_job_in_a_new_message(env: Env) -> None:
    bot = await env.start_bot()
    first = await _imagine(env, env.alice)
    bot = await _restart(env, bot)
    before = await bot.app.engine.quota(_actor(env, env.alice))

    click = await _click(env, env.alice, first, "Rerun")

    callback = await env.callback(click)
    assert callback.json["type"] == 5  # a new "thinking…" message for the new job
    final = await env.final_edit(click)
    assert click.original_id != first.original_id
    assert len(final.files) == 1
    assert len(env.sim.submits) == 2
    assert env.sim.submits[1][1]["prompt"] == "a fox"
    jobs = await bot.app.engine.jobs(_actor(env, env.alice), limit=5)
    assert jobs[0].parent_job_id == jobs[1].id
    after = await bot.app.engine.quota(_actor(env, env.alice))
    assert after.level < before.level  # charged like any job


async def test_upscale_and_edit_buttons_after_a_restart(env: Env) -> None:
    bot = await env.start_bot()
    first = await _imagine(env, env.alice)
    await _restart(env, bot)
    output_url = next(iter(env.sim.requests.values())).output["images"][0]["url"]  # type: ignore[index]

    upscale = await _click(env, env.alice, first, "Upscale (Subtle)")
    await env.final_edit(upscale)
    endpoint, arguments = env.sim.submits[1]
    assert endpoint == "fal-ai/esrgan"
    assert arguments["image_url"] == output_url

    edit = await _click(env, env.alice, first, "Edit")
    modal = (await env.callback(edit)).json
    assert modal["type"] == 9
    text_inputs = [
        c
        for row in modal["data"]["components"]
        for c in (row.get("components") or [row.get("component")])
    ]
    payload = env.fake.modal_submit(
        env.alice, edit, {text_inputs[0]["custom_id"]: "make it winter"}
    )
    submit = await env.fake.send_interaction(payload)
    await env.final_edit(submit)
    endpoint, arguments = env.sim.submits[2]
    assert endpoint == "fal-ai/nano-banana/edit"
    assert arguments["prompt"] == "make it winter"
    assert arguments["image_urls"] == [output_url]


async def test_delete_is_for_the_requester_or_an_admin(env: Env) -> None:
    bot = await env.start_bot()
    first = await _imagine(env, env.alice)
    second = await _imagine(env, env.alice)
    await _restart(env, bot)

    refused = await env.callback(await _click(env, env.bob, first, "Delete"))
    assert refused.json["type"] == 4 and refused.json["data"]["flags"] & EPHEMERAL
    assert "Only the person who asked" in refused.json["data"]["content"]
    assert first.original_id in env.fake.messages

    own = await _click(env, env.alice, first, "Delete")
    assert (await env.callback(own)).json["type"] == 6
    await env.fake.wait_for(lambda r: r.method == "DELETE" and own.token in r.path)
    assert first.original_id in env.fake.deleted

    by_admin = await _click(env, env.mod, second, "Delete")  # Manage Server
    await env.fake.wait_for(lambda r: r.method == "DELETE" and by_admin.token in r.path)
    assert second.original_id in env.fake.deleted


async def test_other_peoples_rerun_is_refused_and_not_charged(env: Env) -> None:
    bot = await env.start_bot()
    first = await _imagine(env, env.alice)
    before = await bot.app.engine.quota(_actor(env, env.bob))

    refused = await env.callback(await _click(env, env.bob, first, "Rerun"))

    assert refused.json["type"] == 4 and refused.json["data"]["flags"] & EPHEMERAL
    assert len(env.sim.submits) == 1
    assert (await bot.app.engine.quota(_actor(env, env.bob))).level == before.level


async def test_a_variations_button_from_before_the_vary_pair_varies_strongly(env: Env) -> None:
    """Issue 12's Variations button (`falbot:vary:<job>`) on results already posted: after the
    upgrade it runs Vary (Strong), four new images of the picture, as a child job."""
    bot = await env.start_bot()
    first = await _imagine(env, env.alice)
    bot = await _restart(env, bot)
    (job,) = await bot.app.engine.jobs(_actor(env, env.alice), limit=5)
    message = env.fake.original(first)
    message["components"][0]["components"][0]["custom_id"] = f"falbot:vary:{job.id}"

    click = await env.fake.send_interaction(
        env.fake.click(env.alice, message, f"falbot:vary:{job.id}")
    )

    final = await env.final_edit(click)
    assert click.original_id != first.original_id  # a new message, like Rerun's
    assert len(final.files) == 4
    endpoint, varied = env.sim.submits[-1]
    assert endpoint == "fal-ai/flux/dev/image-to-image"
    assert varied["prompt"] == "a fox" and varied["strength"] == 0.9
    jobs = await bot.app.engine.jobs(_actor(env, env.alice), limit=5)
    assert jobs[0].parent_job_id == jobs[1].id
