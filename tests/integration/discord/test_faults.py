"""Discord failing under a job: 5xx bursts on the interaction webhook and on channel messages,
the gateway asked to reconnect or dropped mid-job, and the attachment CDN failing or slow.
The user still gets every result, nothing is charged for a job that never started, and an
interaction dispatched while the bot was away reaches it when it resumes."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.jobs import Actor
from core.ports import UsageFilter
from tests.fakes.discord import Issued, Person, Recorded
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import EPHEMERAL, ONE_IMAGE, Env, png

pytestmark = pytest.mark.timeout(60)


def _webhook_edit(r: Recorded) -> bool:
    return r.route == "PATCH /webhooks/{app}/{token}/messages/{message}"


def _failed(env: Env, pred: Any) -> list[Recorded]:
    return [r for r in env.fake.requests if pred(r) and r.status >= 500]


async def _imagine(env: Env, person: Person, prompt: str) -> Issued:
    return await env.slash(person, "imagine", options=[p.option("prompt", p.STRING, prompt)])


async def _shown_running(env: Env, issued: Issued) -> None:
    """The job is at fal and said so (the engine has saved its request id)."""
    await env.fake.wait_for(
        lambda r: _webhook_edit(r) and issued.token in r.path and "running" in r.json["content"]
    )


async def test_5xx_bursts_on_the_interaction_webhook_lose_no_result(env: Env) -> None:
    await env.start_bot()
    env.sim.hold = True
    # Every other progress edit fails, and the result's first try: discord.py's webhook
    # adapter retries a 5xx after a second, and the retry goes through.
    statuses = itertools.cycle((503, 500, 502, 504))
    progress, result = itertools.count(), itertools.count()

    def outage(r: Recorded) -> int | None:
        if not _webhook_edit(r):
            return None
        fails = next(result) == 0 if r.files else next(progress) % 2 == 0
        return next(statuses) if fails else None

    env.fake.outage = outage
    issued = await _imagine(env, env.alice, "through a failing discord")
    await _shown_running(env, issued)
    env.sim.release()

    final = await env.final_edit(issued)
    env.fake.outage = None
    failed = _failed(env, _webhook_edit)
    assert {r.status for r in failed} >= {500, 503}, [r.status for r in failed]
    assert any(r.files for r in failed), "the result's own edit met a 5xx"
    assert len(final.files) == 1 and final.files[0].data.startswith(b"\x89PNG")
    message = env.fake.original(issued)
    assert [a["filename"] for a in message["attachments"]] == [final.files[0].filename]
    assert set(env.fake.button_ids(message)) == ONE_IMAGE


async def test_a_503_discord_py_does_not_retry_on_a_channel_message_is_retried(
    env: Env,
) -> None:
    """A reply that lives in a channel message (here: a mention) goes through discord.py's
    HTTP client, which raises a 503 at once: falbot itself must try the result again."""
    await env.start_bot()
    channel_edit = "PATCH /channels/{channel}/messages/{message}"
    result_tries = itertools.count()

    def outage(r: Recorded) -> int | None:
        with_result = r.route == channel_edit and bool(r.files)
        return 503 if with_result and next(result_tries) == 0 else None

    env.fake.outage = outage
    placeholder = await _mention_with_an_image(env, env.alice)

    final = await env.fake.wait_for(
        lambda r: r.route == channel_edit and bool(r.files) and r.status == 200, timeout=15
    )
    refused = _failed(env, lambda r: r.route == channel_edit)
    assert [r.status for r in refused] == [503]
    assert final.path.endswith(placeholder.answer["id"])
    assert final.files[0].data.startswith(b"\x89PNG")
    assert env.fake.messages[placeholder.answer["id"]]["attachments"]
    assert len(env.sim.submits) == 1


async def test_a_5xx_on_the_defer_that_makes_it_too_late_still_delivers_in_the_channel(
    env: Env,
) -> None:
    """The job is admitted before the defer; when Discord fails the defer and discord.py's
    retry comes after the interaction's time is up, the result still reaches the user."""
    await env.start_bot()
    env.fake.callback_window = 0.5  # Discord's 3 s, shortened: discord.py retries after 1 s
    callback = "POST /interactions/{id}/{token}/callback"
    tries = itertools.count()
    env.fake.outage = lambda r: 503 if r.route == callback and next(tries) == 0 else None

    issued = await _imagine(env, env.alice, "after a failed defer")

    posted = await env.fake.wait_for(
        lambda r: r.route == "POST /channels/{channel}/messages" and _ok_with_files(r), timeout=15
    )
    answers = env.fake.recorder.find(lambda r: r.route == callback)
    assert [r.status for r in answers] == [503, 404]
    assert answers[1].answer["code"] == 10062  # Unknown interaction: too late
    assert issued.acked is None  # the user saw "interaction failed"
    assert f"<@{env.alice.id}>" in posted.json["content"]
    assert posted.files[0].data.startswith(b"\x89PNG")
    assert len(env.sim.submits) == 1


async def test_a_progress_message_deleted_meanwhile_gets_the_result_in_a_new_one(
    env: Env,
) -> None:
    """The edit of a deleted message is refused after discord.py has read the files: the new
    message must still carry them whole."""
    await env.start_bot()
    placeholder = await _mention_with_an_image(env, env.alice)
    message_id = placeholder.answer["id"]

    def deleted_just_before_the_result(r: Recorded) -> None:
        # Someone deletes the message as the result's edit of it arrives (not before: a
        # progress edit would find it gone first, and post the next message without files).
        if r.files and r.path.endswith(message_id):
            env.fake.messages.pop(message_id, None)

    env.fake.outage = deleted_just_before_the_result
    refused = await env.fake.wait_for(
        lambda r: r.route == "PATCH /channels/{channel}/messages/{message}" and bool(r.files)
    )
    posted = await env.fake.wait_for(
        lambda r: r.route == "POST /channels/{channel}/messages" and _ok_with_files(r)
    )
    assert refused.status == 404
    assert posted.files[0].data == refused.files[0].data
    assert posted.files[0].data.startswith(b"\x89PNG")


async def _mention_with_an_image(env: Env, person: Person) -> Recorded:
    """A mention with its own image: the job's reply is a channel message; its placeholder."""
    image = env.fake.host_file("cat.png", png(color="red"), "image/png")
    mention = await env.fake.post_message(
        person, "add a hat", mention_bot=True, attachments=[image]
    )
    return await env.fake.wait_for(
        lambda r: (
            r.route == "POST /channels/{channel}/messages"
            and str((r.json.get("message_reference") or {}).get("message_id")) == mention["id"]
        )
    )


def _ok_with_files(r: Recorded) -> bool:
    return r.status == 200 and bool(r.files)


@pytest.mark.parametrize("drop", ["op 7 reconnect", "close 4000", "cut without a close frame"])
async def test_the_gateway_dropped_mid_job_resumes_and_misses_nothing(env: Env, drop: str) -> None:
    bot = await env.start_bot()
    env.sim.hold = True
    first = await _imagine(env, env.alice, "before the drop")
    await _shown_running(env, first)

    if drop == "op 7 reconnect":
        await env.fake.reconnect()
    else:
        await env.fake.drop_gateway(code=4000 if drop == "close 4000" else None)
    # The bot is away now: this interaction waits in its session until it resumes.
    second = await _imagine(env, env.bob, "while the bot was away")

    resumed = await env.fake.wait_for(lambda r: r.route == "GATEWAY RESUME")
    assert resumed.status == 0, resumed
    assert ("INTERACTION_CREATE", second.id) in resumed.answer  # replayed to the bot
    assert resumed.json["session_id"] == env.fake.sessions[0].session_id
    callback = await env.callback(second)
    assert callback.status == 200 and callback.json["type"] == 5
    assert callback.at > resumed.at
    await env.release_when_running(2)

    for issued in (first, second):
        final = await env.final_edit(issued)
        assert len(final.files) == 1
    identifies = env.fake.recorder.find(lambda r: r.route == "GATEWAY IDENTIFY")
    assert len(identifies) == 1  # resumed, never identified again
    assert len(env.sim.submits) == 2
    assert bot.adapter.client.is_ready()


async def test_a_session_discord_forgot_is_identified_again(env: Env) -> None:
    """RESUME of a session Discord no longer has gets INVALID_SESSION: the bot identifies
    anew, and the job it was running still reports to its message."""
    await env.start_bot()
    env.sim.hold = True
    issued = await _imagine(env, env.alice, "across a new session")
    await _shown_running(env, issued)

    env.fake.sessions[-1].ended = True
    await env.fake.drop_gateway(code=4000)

    refused = await env.fake.wait_for(lambda r: r.route == "GATEWAY RESUME")
    assert refused.status == 9  # INVALID_SESSION
    again = await env.fake.wait_for(  # discord.py waits 5 s before identifying again
        lambda r: r.route == "GATEWAY IDENTIFY", after=env.fake.requests.index(refused), timeout=15
    )
    assert again.status == 0
    assert env.fake.sessions[-1].session_id != refused.json["session_id"]
    env.sim.release()
    final = await env.final_edit(issued)
    assert len(final.files) == 1
    later = await _imagine(env, env.bob, "on the new session")
    assert (await env.callback(later)).json["type"] == 5


async def test_a_failing_cdn_download_is_a_clear_error_and_charges_nothing(env: Env) -> None:
    bot = await env.start_bot()
    actor = Actor("discord", env.fake.guild_id, env.alice.id)
    before = await bot.app.engine.quota(actor)
    attachment = env.fake.host_file("cat.png", png(), "image/png")
    env.fake.cdn_fault = lambda path: 503

    issued = await _edit(env, env.alice, attachment)

    assert (await env.callback(issued)).json["type"] == 5  # deferred before the download
    told = await env.fake.wait_for(
        lambda r: r.route == "POST /webhooks/{app}/{token}" and issued.token in r.path
    )
    assert told.json["flags"] & EPHEMERAL
    assert "`cat.png`: I could not download that file (HTTP 503)" in told.json["content"]
    assert issued.original_id in env.fake.deleted  # no "thinking…" left behind
    assert [status for _, status in env.fake.cdn_requests] == [503]
    assert env.sim.submits == []
    assert await bot.app.engine.jobs(actor, limit=5) == []
    after = await bot.app.engine.quota(actor)
    assert after.level == before.level
    since = datetime.now(UTC) - timedelta(hours=1)
    assert await bot.app.store.ledger(UsageFilter(env.fake.guild_id, since)) == []


async def test_a_slow_cdn_download_is_deferred_first_then_runs(env: Env) -> None:
    await env.start_bot()
    image = png(color="blue")
    attachment = env.fake.host_file("slow.png", image, "image/png")
    released = asyncio.Event()
    env.fake.cdn_fault = lambda path: released

    issued = await _edit(env, env.alice, attachment)

    callback = await env.callback(issued)  # Discord's 3 s are kept while the CDN hangs
    assert callback.json["type"] == 5
    assert env.fake.cdn_requests == []  # the download is still going
    released.set()
    final = await env.final_edit(issued)
    assert len(final.files) == 1
    assert env.fake.cdn_requests[0][1] == 200
    assert len(env.sim.submits) == 1


async def _edit(env: Env, person: Person, attachment: dict[str, Any]) -> Issued:
    return await env.slash(
        person,
        "edit",
        options=[
            p.option("prompt", p.STRING, "add a hat"),
            p.option("image", p.ATTACHMENT_OPTION, attachment["id"]),
        ],
        attachments=[attachment],
    )
