"""`/imagine a red fox --model flux-dev --aspect 16:9`: words and `--options` from command text."""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from core.errors import BotError, invalid

# What users type → the option name core's schemas know (core also accepts some of these).
_CANONICAL = {
    "aspect": "aspect_ratio",
    "ar": "aspect_ratio",
    "aspect_ratio": "aspect_ratio",
    "count": "num_images",
    "n": "num_images",
    "num_images": "num_images",
    "audio": "generate_audio",
    "generate_audio": "generate_audio",
}
# How options are shown back to users: the short names the usage lines use.
_SHOWN = {"aspect_ratio": "aspect", "num_images": "count", "generate_audio": "audio"}
# Options that need no value: `--audio` alone means yes.
_FLAGS = frozenset({"generate_audio"})
# Slack clients (and macOS) turn a typed `--` into an em or en dash: accept those too.
_OPTION = re.compile(r"^(?:--|—|–)([A-Za-z][\w-]*)(?:=(.*))?$")


@dataclass(frozen=True)
class Parsed:
    """The words of a command (its prompt, or sub-command and arguments) and its options."""

    words: tuple[str, ...]
    options: Mapping[str, str | bool | int] = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        return " ".join(self.words)


def usage_error(problem: str, usage: str) -> BotError:
    return invalid(problem, f"Usage: {usage}")


def unescape(text: str) -> str:
    """Slack escapes `&`, `<` and `>` in the text it sends; give the user's characters back."""
    return html.unescape(text)


def parse(text: str, *, allowed: Collection[str], usage: str) -> Parsed:
    """Split `text` into words and options; an unknown or valueless option is a usage error."""
    words: list[str] = []
    options: dict[str, str | bool | int] = {}
    tokens = unescape(text).split()
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        match = _OPTION.match(token)
        if match is None:
            words.append(token)
            continue
        typed = match.group(1).lower().replace("-", "_")
        name = _CANONICAL.get(typed, typed)
        if name not in allowed:
            known = ", ".join(sorted(f"--{_SHOWN.get(o, o).replace('_', '-')}" for o in allowed))
            raise usage_error(
                f"I don't know the option `--{typed}` (options: {known or 'none'}).", usage
            )
        value: str | bool | None = match.group(2)
        if value is None:
            if i < len(tokens) and _OPTION.match(tokens[i]) is None:
                value = tokens[i]
                i += 1
            elif name in _FLAGS:
                value = True
            else:
                raise usage_error(f"`--{typed}` needs a value.", usage)
        if name in options:
            raise usage_error(f"`--{typed}` is given twice.", usage)
        options[name] = _value(name, value)
    return Parsed(tuple(words), options)


def _value(name: str, value: str | bool) -> str | bool | int:
    """Typed as core's schemas want them: whole numbers as ints (`--duration 8s` too)."""
    if isinstance(value, bool):
        return value
    if name in _FLAGS:
        return value.lower() in ("1", "yes", "true", "on")
    if name == "duration":
        value = value.lower().removesuffix("s")
    # Plain ASCII digits only, and few of them: int() refuses '²' and strings past 4,300 digits.
    if value.isascii() and value.isdigit() and len(value) <= 12:
        return int(value)
    return value


def slack_id(token: str) -> str:
    """`<@U123|ann>` (an escaped mention) or `U123` → `U123`."""
    match = re.fullmatch(r"<[@#!]?([A-Z0-9]+)(?:\|[^>]*)?>", token.strip())
    return match.group(1) if match else token.strip().lstrip("@")


def parse_days(text: str, *, usage: str, default: int = 30) -> int:
    """`7`, `7d`, `week` or `month` → days."""
    word = text.strip().lower()
    named = {"": default, "day": 1, "today": 1, "week": 7, "month": 30, "year": 365}
    if word in named:
        return named[word]
    digits = word.removesuffix("days").removesuffix("day").removesuffix("d").strip()
    if digits.isascii() and digits.isdigit() and len(digits) <= 3 and 1 <= int(digits) <= 366:
        return int(digits)
    raise usage_error(f"`{text.strip()[:20]}` is not a number of days from 1 to 366.", usage)
