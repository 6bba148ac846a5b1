"""A job that outlives the interaction token finishes in a normal channel message."""

from __future__ import annotations

from datetime import timedelta

from tests.fakes.discord import Issued, Recorded
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import ONE_IMAGE, Env, ShiftedClock

LIFETIME = timedelta(seconds=30)  # Discord's is 15 minutes


def _channel_result(r: Recorded) -> bool:
    return (
        r.route
        in ("POST /channels/{channel}/messages", "PATCH /channels/{channel}/messages/{message}")
        and r.status == 200
        and bool((r.json or {}).get("components"))
    )


async def _start_held_job(env: Env) -> Issued:
    env.sim.hold = True
    issued = await env.slash(env.alice, "imagine", options=[p.option("prompt", p.STRING, "slow")])
    await env.fake.wait_for(
        lambda r: r.method == "PATCH" and issued.token in r.path and r.status == 200
    )
    return issued


async def test_a_job_longer_than_the_token_lifetime_ends_in_a_channel_message(env: Env) -> None:
    clock = ShiftedClock()
    await env.start_bot(adapter_clock=clock, token_lifetime=LIFETIME, token_margin=timedelta(0))
    issued = await _start_held_job(env)

    clock.offset = LIFETIME + timedelta(seconds=1)
    env.fake.expire(issued)  # Discord refuses the token from now on, too
    mark = env.fake.mark()
    await env.release_when_running()

    result = await env.fake.wait_for(_channel_result, after=mark, timeout=10)
    assert result.headers["Authorization"] == f"Bot {env.fake.bot_token}"
    assert result.path.startswith(f"/channels/{env.fake.channel_id}/messages")
    assert len(result.files) == 1 and result.files[0].data.startswith(b"\x89PNG")
    # a new message (edits notify nobody) that pings the requester, and only them
    assert result.route == "POST /channels/{channel}/messages"
    assert result.json["content"].startswith(f"<@{env.alice.id}>")
    assert [str(u) for u in result.json["allowed_mentions"]["users"]] == [env.alice.id]
    progress_posts = [
        r.answer["id"]
        for r in env.fake.requests[mark:]
        if r.route == "POST /channels/{channel}/messages" and r is not result
    ]
    for message_id in progress_posts:  # the progress shown meanwhile is cleaned up
        await env.fake.wait_for(
            lambda r, m=message_id: r.method == "DELETE" and r.path.endswith(f"/messages/{m}")
        )
    assert set(env.fake.button_ids(result.answer)) == ONE_IMAGE
    late_edits = [
        r
        for r in env.fake.requests[mark:]
        if r.method == "PATCH" and issued.token in r.path and r.status == 200
    ]
    assert late_edits == []


async def test_a_token_discord_refuses_early_also_moves_to_the_channel(env: Env) -> None:
    await env.start_bot()  # the adapter believes the token still has minutes left
    issued = await _start_held_job(env)

    env.fake.expire(issued)
    mark = env.fake.mark()
    await env.release_when_running()

    result = await env.fake.wait_for(_channel_result, after=mark, timeout=10)
    refused = [r for r in env.fake.requests[mark:] if issued.token in r.path]
    assert refused and all(r.status == 401 for r in refused)
    assert len(result.files) == 1
