"""Sharding, as Discord documents it: the fake's gateway at the protocol level (IDENTIFY's
`shard`, READY and GUILD_CREATE per shard, events routed by `(guild_id >> 22) % count`, DMs on
shard 0), then falbot's `FALBOT_DISCORD_SHARDS` on the real discord.py `AutoShardedClient`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from adapters.discord.client import ShardedFalbotClient
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord import payloads as p
from tests.fakes.discord.gateway import shard_of
from tests.integration.discord.conftest import Env

COUNT = 4


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(shards=COUNT, max_concurrency=16)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


def guilds_on_every_shard(fake: FakeDiscord) -> dict[int, str]:
    """shard id → a guild Discord routes to it (the main guild sits on whichever shard)."""
    return {k: fake.add_guild(f"guild {k}", shard=(k, COUNT)) for k in range(COUNT)}


async def _receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await ws.receive(timeout=5)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    frame: dict[str, Any] = json.loads(msg.data)
    return frame


async def _identify(
    session: aiohttp.ClientSession, fake: FakeDiscord, shard: list[int]
) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(fake.gateway_url)
    assert (await _receive(ws))["op"] == 10  # HELLO
    identify = {"token": fake.bot_token, "intents": 1 << 0, "properties": {}, "shard": shard}
    await ws.send_json({"op": 2, "d": identify})
    return ws


async def test_the_gateway_recommends_shards_and_refuses_an_invalid_one(
    fake: FakeDiscord,
) -> None:
    headers = {"Authorization": f"Bot {fake.bot_token}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{fake.api_url}/gateway/bot", headers=headers) as answer:
            body = await answer.json()
        assert body["shards"] == COUNT
        assert body["session_start_limit"]["max_concurrency"] == 16

        ws = await _identify(http, fake, [COUNT, COUNT])
        closed = await ws.receive(timeout=5)
        assert closed.type is aiohttp.WSMsgType.CLOSE and ws.close_code == 4010  # Invalid shard
        await ws.close()


async def test_each_shard_is_its_own_session_with_only_its_guilds_and_events(
    fake: FakeDiscord,
) -> None:
    guilds = guilds_on_every_shard(fake)
    person = fake.add_person("ada")
    fake.commands[None] = [{"id": "1", "name": "imagine", "type": p.CHAT_INPUT}]
    async with aiohttp.ClientSession() as http:
        one = await _identify(http, fake, [1, COUNT])
        ready = await _receive(one)
        assert ready["t"] == "READY" and ready["d"]["shard"] == [1, COUNT]
        mine = [gid for gid in fake.guilds if shard_of(gid, COUNT) == 1]
        assert guilds[1] in mine
        assert [g["id"] for g in ready["d"]["guilds"]] == mine
        created = [(await _receive(one))["d"]["id"] for _ in mine]
        assert created == mine  # GUILD_CREATE for this shard's guilds, no other

        zero = await _identify(http, fake, [0, COUNT])
        ready_zero = await _receive(zero)
        assert ready_zero["d"]["session_id"] != ready["d"]["session_id"]
        for _ in (g for g in fake.guilds if shard_of(g, COUNT) == 0):
            assert (await _receive(zero))["t"] == "GUILD_CREATE"

        # An interaction in shard 1's guild goes to shard 1's session only.
        issued = await fake.send_interaction(fake.slash(person, "imagine", guild=guilds[1]))
        event = await _receive(one)
        assert (event["t"], event["d"]["id"]) == ("INTERACTION_CREATE", issued.id)
        assert [s.shard for s in issued.sessions] == [(1, COUNT)]
        # A DM goes to shard 0; a guild whose shard nobody runs gets nothing (lost, as on
        # Discord).
        dm = await fake.send_interaction(fake.slash(person, "imagine", dm=True))
        event = await _receive(zero)
        assert (event["t"], event["d"]["id"]) == ("INTERACTION_CREATE", dm.id)
        assert [s.shard for s in dm.sessions] == [(0, COUNT)]
        lost = await fake.send_interaction(fake.slash(person, "imagine", guild=guilds[3]))
        assert lost.sessions == []
        await one.close()
        await zero.close()


async def test_falbot_on_four_shards_answers_every_guild_on_its_shard(env: Env) -> None:
    env.fake.max_concurrency = 16  # a large bot's: the four shards identify at once
    guilds = guilds_on_every_shard(env.fake)
    bot = await env.start_bot(settings={"FALBOT_DISCORD_SHARDS": "0-3/4"})
    client = bot.adapter.client
    assert isinstance(client, ShardedFalbotClient)
    assert sorted(client.shards) == [0, 1, 2, 3]
    identified = sorted(tuple(s.identify["shard"]) for s in env.fake.sessions)
    assert identified == [(k, COUNT) for k in range(COUNT)]
    assert {str(g.id): g.shard_id for g in client.guilds} == {
        gid: shard_of(gid, COUNT) for gid in env.fake.guilds
    }

    sent = []
    for shard, guild in guilds.items():
        prompt = p.option("prompt", p.STRING, f"a fox on shard {shard}")
        issued = await env.slash(env.alice, "imagine", options=[prompt], guild=guild)
        sent.append((shard, issued))
    for shard, issued in sent:
        assert (await env.callback(issued)).status == 200
        assert [s.shard for s in issued.sessions] == [(shard, COUNT)]
        await env.final_edit(issued)
    dm = await env.slash(env.alice, "quota", dm=True)  # DMs are off: a note, on shard 0
    assert (await env.callback(dm)).status == 200
    assert [s.shard for s in dm.sessions] == [(0, COUNT)]
