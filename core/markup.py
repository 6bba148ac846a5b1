"""The markup core's texts are written in, which each adapter translates.

`**bold**` and `` `code` `` as Discord and Markdown write them; an option the user types as
`` `--count` `` (Discord's slash options have no dashes: its renderer drops them); and three
tokens no user or fal text can forge, each between two private-use characters (`clean_prompt`
strips those from prompts): a user, a role, and a clock time. Discord turns them into `<@id>`,
`<@&id>` and `<t:unix:t>`, Slack into its mentions and date token, the console into names and
local times. An adapter that forgets one shows nothing odd to a reader: `translate` drops what
it is not told how to show.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

OPEN, CLOSE = "\ue000", "\ue001"
OPTION = re.compile(r"`--([a-z][a-z0-9_-]*)`")
TOKEN = re.compile(OPEN + r"([urt]):([A-Za-z0-9_.:-]{1,64})" + CLOSE)

Show = Callable[[str], str]


def user_ref(user_id: str) -> str:
    """A user: a mention on the chat platforms, a name on the console."""
    return f"{OPEN}u:{user_id}{CLOSE}"


def role_ref(role_id: str) -> str:
    """A role (a Slack user group): a mention where the platform has them."""
    return f"{OPEN}r:{role_id}{CLOSE}"


def clock_ref(moment: datetime, *, with_date: bool = False) -> str:
    """The time of day of `moment` (with its date), in the reader's own time zone where the
    platform can show it so."""
    return f"{OPEN}t:{int(moment.timestamp())}:{'f' if with_date else 't'}{CLOSE}"


def translate(text: str, *, user: Show, role: Show, clock: Callable[[int, bool], str]) -> str:
    """Every token of `text` shown by the adapter's own functions; stray marks dropped."""

    def one(match: re.Match[str]) -> str:
        kind, value = match.group(1), match.group(2)
        if kind == "u":
            return user(value)
        if kind == "r":
            return role(value)
        unix, _, style = value.partition(":")
        return clock(int(unix), style == "f") if unix.lstrip("-").isdigit() else ""

    return TOKEN.sub(one, text).replace(OPEN, "").replace(CLOSE, "")
