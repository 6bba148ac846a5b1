"""`falbot run` starts Discord when DISCORD_TOKEN is set; `falbot sync-commands --guild`
registers the commands in that guild. Through the composition root, on the fake Discord."""

from __future__ import annotations

import aiohttp
import pytest

from bot.run import serving, sync_commands
from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import Env


async def test_falbot_run_serves_discord(env: Env) -> None:
    settings = env.settings(FALBOT_HTTP_PORT=0, FALBOT_HTTP_HOST="127.0.0.1")
    assert await sync_commands(settings, guild=None) == 0

    async with serving(settings) as running:
        issued = await env.slash(
            env.alice, "imagine", options=[p.option("prompt", p.STRING, "via falbot run")]
        )
        final = await env.final_edit(issued)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{running.server.port}/healthz") as response,
        ):
            health = await response.json()

    assert len(final.files) == 1
    assert health["adapters"]["discord"] == "connected"


async def test_sync_commands_to_one_guild(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    settings = env.settings()

    assert await sync_commands(settings, guild=env.fake.guild_id) == 0

    put = await env.fake.wait_for(
        lambda r: r.route == "PUT /applications/{id}/guilds/{guild.id}/commands"
    )
    assert {c["name"] for c in put.json} >= {"imagine", "edit", "admin", "Edit image"}
    assert f"in guild {env.fake.guild_id}" in capsys.readouterr().out
