"""`a red fox --model flux-dev --aspect 16:9`: words and `--options` from a command's words."""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from core.errors import BotError, invalid


@dataclass(frozen=True)
class Option:
    """An option users type: the field core's schemas know it by, the names typed for it (the
    first is the one shown), and an example value for usage lines (None: a yes/no flag)."""

    field: str
    names: tuple[str, ...]
    example: str | None
    choices: tuple[str, ...] = ()  # the only values it takes, checked here (none: core checks)

    @property
    def shown(self) -> str:
        return f"--{self.names[0]}"


OPTIONS = (
    Option("model", ("model",), "m"),
    Option("aspect_ratio", ("aspect", "ar", "aspect_ratio"), "16:9"),
    Option("num_images", ("count", "n", "num_images"), "1-4"),
    Option("seed", ("seed",), "n"),
    Option("duration", ("duration",), "5"),
    Option("resolution", ("resolution",), "720p"),
    Option("quality", ("quality",), "medium"),
    Option("input_fidelity", ("fidelity", "input_fidelity"), "high"),
    Option("generate_audio", ("audio", "generate_audio"), None),
    Option("scale", ("scale",), "2-4"),
    Option("image", ("image",), "1-4"),
    Option("scope", ("scope",), "user", choices=("user", "role", "workspace")),
    Option("csv", ("csv",), None),
    Option("private", ("private",), None),
)
BY_FIELD = {o.field: o for o in OPTIONS}
_BY_NAME = {name: o for o in OPTIONS for name in o.names}
# Slack clients (and macOS) turn a typed `--` into an em or en dash: accept those too.
_OPTION = re.compile(r"^(?:--|—|–)([A-Za-z][\w-]*)(?:=(.*))?$")
_YES = frozenset({"1", "yes", "true", "on"})
_NO = frozenset({"0", "no", "false", "off"})

Value = str | bool | int


@dataclass(frozen=True)
class Parsed:
    """The words of a command (its prompt, or sub-command and arguments) and its options, by
    the field names core's schemas know (`aspect_ratio`, not `aspect`)."""

    words: tuple[str, ...]
    options: Mapping[str, Value] = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        return " ".join(self.words)


def usage_error(problem: str, usage: str) -> BotError:
    return invalid(problem, f"Usage: {usage}")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """` Did you mean `x`?` for the closest choice, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean `{close[0]}`?" if close else ""


def parse(tokens: Sequence[str], *, allowed: Collection[str], usage: str) -> Parsed:
    """Split `tokens` into words and the `allowed` options (field names); an unknown, doubled
    or valueless option is a usage error. A yes/no flag takes a following yes/no word only:
    `--audio a fox` is audio and the prompt `a fox`."""
    words: list[str] = []
    options: dict[str, Value] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        match = _OPTION.match(token)
        if match is None:
            words.append(token)
            continue
        typed = match.group(1).lower().replace("-", "_")
        option = _BY_NAME.get(typed)
        if option is None or option.field not in allowed:
            known = sorted(BY_FIELD[f].shown for f in allowed if f in BY_FIELD)
            listed = ", ".join(known) or "none"
            hint = did_you_mean(f"--{typed}", known)
            raise usage_error(
                f"I don't know the option `--{typed}` (options: {listed}).{hint}", usage
            )
        value: str | bool | None = match.group(2)
        if value is None:
            following = tokens[i] if i < len(tokens) else None
            if option.example is None:
                value = True
                if following is not None and following.lower() in _YES | _NO:
                    value, i = following, i + 1
            elif following is not None and _OPTION.match(following) is None:
                value, i = following, i + 1
            else:
                raise usage_error(f"`--{typed}` needs a value.", usage)
        if option.field in options:
            raise usage_error(f"`--{typed}` is given twice.", usage)
        options[option.field] = _value(option, value, typed=typed, usage=usage)
    return Parsed(tuple(words), options)


def _value(option: Option, value: str | bool, *, typed: str, usage: str) -> Value:
    """Typed as core's schemas want them: whole numbers as ints (`--duration 8s` too)."""
    if isinstance(value, bool):
        return value
    if option.example is None:
        return value.lower() in _YES
    if option.choices:
        if value.lower() not in option.choices:
            raise usage_error(f"`--{typed}` is one of {'|'.join(option.choices)}.", usage)
        return value.lower()
    if option.field == "duration":
        value = value.lower().removesuffix("s")
    # Plain ASCII digits only, and few of them: int() refuses '²' and strings past 4,300 digits.
    if value.isascii() and value.isdigit() and len(value) <= 12:
        return int(value)
    return value


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
