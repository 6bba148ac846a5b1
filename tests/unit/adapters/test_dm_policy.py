"""FALBOT_DISCORD_DMS is read strictly: off, own or home:<guild id>, anything else refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from adapters.discord.identity import DmPolicy
from bot.settings import Settings


def test_the_three_modes_parse() -> None:
    assert DmPolicy.parse("off") == DmPolicy("off")
    assert DmPolicy.parse(" Own ") == DmPolicy("own")
    assert DmPolicy.parse("home:123456789012345678") == DmPolicy("home", 123456789012345678)
    assert str(DmPolicy.parse("home:42")) == "home:42"


@pytest.mark.parametrize("value", ["on", "home", "home:", "home:abc", "guild:1"])
def test_anything_else_is_refused_with_what_to_write(value: str) -> None:
    with pytest.raises(ValueError, match="home:<guild id>"):
        DmPolicy.parse(value)
    with pytest.raises(ValidationError, match="home:<guild id>"):
        Settings(_env_file=None, FALBOT_DISCORD_DMS=value)  # type: ignore[call-arg]


def test_dms_are_off_unless_set() -> None:
    assert Settings(_env_file=None).discord_dms == "off"  # type: ignore[call-arg]
