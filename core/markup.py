"""The markup core's texts are written in, which each adapter translates.

It is Discord's: `**bold**`, a user `<@id>` or role `<@&id>` (a mention on Discord and Slack, a
name on the console), a clock time `<t:unix:t>` (shown in the reader's own time zone on Discord
and Slack), and an option the user types as `` `--count` `` (Discord's slash options have no
dashes: its renderer drops them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

OPTION = re.compile(r"`--([a-z][a-z0-9_-]*)`")
MENTION = re.compile(r"<@(&?)([A-Za-z0-9_.:-]{1,64})>")
CLOCK = re.compile(r"<t:(-?\d{1,12}):([tf])>")


def user_ref(user_id: str) -> str:
    """A user, as a mention on the chat platforms and a name on the console."""
    return f"<@{user_id}>"


def role_ref(role_id: str) -> str:
    return f"<@&{role_id}>"


def clock_ref(moment: datetime, *, with_date: bool = False) -> str:
    """The time of day of `moment`, in the reader's own time zone where the platform can."""
    return f"<t:{int(moment.timestamp())}:{'f' if with_date else 't'}>"


def names(text: str, name: Callable[[str, bool], str]) -> str:
    """Every mention in `text` replaced by `name(id, is_role)`."""
    return MENTION.sub(lambda m: name(m.group(2), m.group(1) == "&"), text)
