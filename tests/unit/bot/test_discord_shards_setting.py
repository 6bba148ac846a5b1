"""FALBOT_DISCORD_SHARDS: the shards one process runs, `ids/count`; a bad value stops the start
with one line saying what is wrong."""

from __future__ import annotations

import io

import pytest
from pydantic import ValidationError

from bot.check import run_check
from bot.cli import _settings_problem
from bot.settings import DiscordShards, Settings, parse_shards


@pytest.mark.parametrize(
    ("value", "ids", "count", "shown"),
    [
        ("0-3/8", (0, 1, 2, 3), 8, "0-3/8"),
        ("0,2/4", (0, 2), 4, "0,2/4"),
        ("1/2", (1,), 2, "1/2"),
        ("0/1", (0,), 1, "0/1"),
        (" 4-5, 0 / 6 ", (0, 4, 5), 6, "0,4-5/6"),
        ("0-1,3,5-7/8", (0, 1, 3, 5, 6, 7), 8, "0-1,3,5-7/8"),
    ],
)
def test_shard_ids_and_count_are_read(
    value: str, ids: tuple[int, ...], count: int, shown: str
) -> None:
    assert parse_shards(value) == DiscordShards(ids, count)
    settings = Settings(FAL_KEY="k", FALBOT_DISCORD_SHARDS=value)
    assert settings.discord_shard_plan == DiscordShards(ids, count)
    assert settings.discord_shards == shown


def test_unset_is_one_unsharded_connection() -> None:
    assert Settings(FAL_KEY="k").discord_shard_plan is None
    assert Settings(FAL_KEY="k", FALBOT_DISCORD_SHARDS="").discord_shard_plan is None


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("0-3", "must look like 0-3/8"),
        ("0-3/", "shard count after the slash must be a number from 1 to"),
        ("0/0", "shard count after the slash must be a number from 1 to"),
        ("0/-2", "shard count after the slash must be a number from 1 to"),
        ("0/x", "shard count after the slash must be a number from 1 to"),
        ("/4", "names no shard ids before the slash"),
        (",/4", "names no shard ids before the slash"),
        ("4/4", "shard 4 is out of range: with 4 shard(s) they are numbered 0 to 3"),
        ("0-8/8", "shard 8 is out of range"),
        ("3-1/4", "runs backwards"),
        ("a/4", "is not a shard id or a range like 0-3"),
        ("0-/4", "is not a shard id or a range like 0-3"),
        ("0-2,1/4", "shard 1 is named twice"),
        ("0/1000000", "from 1 to 100000"),
    ],
)
def test_a_bad_value_stops_the_start_with_one_line(value: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(FAL_KEY="k", FALBOT_DISCORD_SHARDS=value)
    text = _settings_problem(caught.value)
    problem = text.splitlines()[1]
    assert problem.startswith("  FALBOT_DISCORD_SHARDS: "), text
    assert says in problem
    assert len(text.splitlines()) == 2


def test_falbot_check_says_what_is_wrong_with_it() -> None:
    out = io.StringIO()
    env = {"FAL_KEY": "id:secret", "DISCORD_TOKEN": "a" * 24 + ".abcd." + "b" * 27}
    assert run_check(out, {**env, "FALBOT_DISCORD_SHARDS": "2-3/4"}, env_file=None) == 0
    assert "FALBOT_DISCORD_SHARDS            ok         2-3/4" in out.getvalue()
    out = io.StringIO()
    assert run_check(out, {**env, "FALBOT_DISCORD_SHARDS": "4/4"}, env_file=None) == 1
    row = next(x for x in out.getvalue().splitlines() if x.startswith("FALBOT_DISCORD_SHARDS"))
    assert row.split()[1] == "malformed" and "shard 4 is out of range" in row, row


def test_falbot_check_does_not_mangle_its_message_with_a_short_value() -> None:
    out = io.StringIO()
    run_check(out, {"FAL_KEY": "id:secret", "FALBOT_DISCORD_SHARDS": "0"}, env_file=None)
    row = next(x for x in out.getvalue().splitlines() if x.startswith("FALBOT_DISCORD_SHARDS"))
    assert "must look like 0-3/8" in row, row


def test_falbot_check_names_the_shards_and_warns_when_sqlite_would_split_the_bot() -> None:
    env = {"FAL_KEY": "id:secret", "DISCORD_TOKEN": "a" * 24 + ".abcd." + "b" * 27}
    out = io.StringIO()
    run_check(out, {**env, "FALBOT_DISCORD_SHARDS": "0-1/4"}, env_file=None)
    text = out.getvalue()
    assert "falbot run will start: Discord (shards 0-1/4)," in text
    assert "Discord runs shards 0-1 of 4 here, but the processes running the others" in text
    assert "FALBOT_DATABASE=postgresql://" in text

    for quiet in (
        {"FALBOT_DISCORD_SHARDS": "0-3/4"},  # every shard in this process
        {"FALBOT_DISCORD_SHARDS": "0-1/4", "FALBOT_DATABASE": "postgresql://db/falbot"},
        {},
    ):
        out = io.StringIO()
        run_check(out, {**env, **quiet}, env_file=None)
        assert "cannot share a SQLite database" not in out.getvalue(), quiet
