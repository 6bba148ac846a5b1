"""`falbot run` registers Discord's commands itself, only when they differ from the ones it last
registered (a hash kept in the store; one bulk overwrite), on the fake Discord."""

from __future__ import annotations

import logging

import pytest

from adapters.sqlite.store import SqliteStore
from bot.run import serving
from tests.integration.discord.conftest import Env

PUT = "PUT /applications/{id}/commands"


def puts(env: Env) -> int:
    return len(env.fake.recorder.find(lambda r: r.route == PUT))


async def test_run_registers_on_a_fresh_install_then_only_when_the_commands_change(
    env: Env,
) -> None:
    settings = env.settings(FALBOT_HTTP_PORT=0, FALBOT_HTTP_HOST="127.0.0.1")
    assert not env.fake.commands  # a fresh install: nothing registered, no sync-commands run

    async with serving(settings):
        pass
    assert puts(env) == 1
    names = {c["name"] for c in env.fake.recorder.find(lambda r: r.route == PUT)[0].json}
    assert {"imagine", "edit", "upscale", "video", "admin", "Edit image"} <= names

    async with serving(settings):  # the same commands: nothing sent
        pass
    assert puts(env) == 1

    # An upgrade whose command set differs from what the last run registered.
    async with await SqliteStore.open(settings.database_path) as store:
        key = next(iter(await _state_keys(store)))
        await store.set_state_value(key, "the hash of an older command set")
    async with serving(settings):
        pass
    assert puts(env) == 2


async def test_sync_commands_counts_as_registered(env: Env) -> None:
    from bot.run import sync_commands

    settings = env.settings(FALBOT_HTTP_PORT=0, FALBOT_HTTP_HOST="127.0.0.1")
    assert await sync_commands(settings, guild=None) == 0
    async with serving(settings):
        pass
    assert puts(env) == 1


async def test_a_normal_start_says_nothing_about_voice(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    import discord

    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = True  # as on import
    settings = env.settings(FALBOT_HTTP_PORT=0, FALBOT_HTTP_HOST="127.0.0.1")
    async with serving(settings):
        pass
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [w for w in warnings if "PyNaCl" in w or "davey" in w], warnings


async def _state_keys(store: SqliteStore) -> list[str]:
    async with store._tx(write=False) as db:
        rows = await db.execute_fetchall("SELECT key FROM bot_state")
    return [str(row[0]) for row in rows]


async def test_sync_commands_clear_removes_a_guilds_copies(env: Env) -> None:
    from bot.run import sync_commands

    settings = env.settings()
    guild = env.fake.guild_id
    assert await sync_commands(settings, guild=guild) == 0
    assert await sync_commands(settings, guild=guild, clear=True) == 0

    route = "PUT /applications/{id}/guilds/{guild.id}/commands"
    sent = [r.json for r in env.fake.recorder.find(lambda r: r.route == route)]
    assert len(sent) == 2 and sent[0] and sent[1] == []
