"""Logging in, the gateway handshake, the intents asked for, and registering commands."""

from __future__ import annotations

import discord
import pytest

from adapters.discord import point_discord_at
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import Env

JOB_COMMANDS = {"imagine", "edit", "upscale", "video"}
ACCOUNT_COMMANDS = {"models", "quota", "usage", "jobs", "cancel", "admin"}


async def test_start_identifies_without_message_content_and_is_ready(env: Env) -> None:
    bot = await env.start_bot()

    identify = await env.fake.wait_for(lambda r: r.route == "GATEWAY IDENTIFY")
    intents = identify.json["intents"]
    assert intents & p.INTENT_GUILDS and intents & p.INTENT_GUILD_MESSAGES
    assert intents & p.INTENT_DIRECT_MESSAGES
    assert not intents & p.INTENT_MESSAGE_CONTENT
    assert bot.adapter.client.is_ready()
    assert [g.id for g in bot.adapter.client.guilds] == [int(env.fake.guild_id)]
    login = env.fake.recorder.find(lambda r: r.route == "GET /users/@me")[0]
    assert login.headers["Authorization"] == f"Bot {env.fake.bot_token}"


async def test_message_content_intent_is_asked_for_only_when_enabled(env: Env) -> None:
    await env.start_bot(settings={"FALBOT_DISCORD_MESSAGE_CONTENT": True})

    identify = await env.fake.wait_for(lambda r: r.route == "GATEWAY IDENTIFY")
    assert identify.json["intents"] & p.INTENT_MESSAGE_CONTENT


async def test_sync_registers_every_command_and_the_edit_image_menu(env: Env) -> None:
    await env.start_bot()

    put = await env.fake.wait_for(lambda r: r.route == "PUT /applications/{id}/commands")
    names = {(c["name"], c.get("type", 1)) for c in put.json}
    assert {(n, 1) for n in JOB_COMMANDS | ACCOUNT_COMMANDS} <= names
    assert ("Edit image", p.MESSAGE_COMMAND) in names
    admin = next(c for c in put.json if c["name"] == "admin")
    groups = {o["name"]: o for o in admin["options"]}
    assert {"quota", "budget", "models", "ban", "unban", "usage", "refund"} <= set(groups)
    assert {o["name"] for o in groups["quota"]["options"]} == {"set", "show"}
    imagine = next(c for c in put.json if c["name"] == "imagine")
    model = next(o for o in imagine["options"] if o["name"] == "model")
    assert model["autocomplete"] is True


async def test_sync_to_one_guild_uses_the_guild_route(env: Env) -> None:
    bot = await env.start_bot()

    count = await bot.adapter.sync_commands(guild_id=env.fake.guild_id)

    put = await env.fake.wait_for(
        lambda r: r.route == "PUT /applications/{id}/guilds/{guild.id}/commands"
    )
    assert put.path.endswith(f"/guilds/{env.fake.guild_id}/commands")
    assert count == len(put.json) >= 10


async def test_a_wrong_token_fails_to_start_without_showing_the_token(env: Env) -> None:
    secret = "not-the-token.SECRET123"
    with pytest.raises(discord.LoginFailure) as failure:
        await env.start_bot(settings={"DISCORD_TOKEN": secret})
    assert secret not in str(failure.value)
    assert secret not in repr(env.bots[-1].adapter)


def test_base_urls_point_and_reset() -> None:
    point_discord_at(api_url="http://127.0.0.1:9/api/v10", gateway_url="ws://127.0.0.1:9/gw")
    assert discord.http.Route.BASE == "http://127.0.0.1:9/api/v10"
    assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "ws://127.0.0.1:9/gw"
    point_discord_at(api_url="https://proxy.example:8443", gateway_url=None)
    assert discord.http.Route.BASE == "https://proxy.example:8443/api/v10"
    point_discord_at(api_url=None, gateway_url=None)
    assert discord.http.Route.BASE == "https://discord.com/api/v10"
    assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "wss://gateway.discord.gg/"


async def test_asking_for_an_intent_discord_has_not_granted_stops_the_start(env: Env) -> None:
    env.fake.message_content_allowed = False

    with pytest.raises(discord.PrivilegedIntentsRequired):
        await env.start_bot(settings={"FALBOT_DISCORD_MESSAGE_CONTENT": True})

    identify = await env.fake.wait_for(lambda r: r.route == "GATEWAY IDENTIFY")
    assert identify.status == 4014
