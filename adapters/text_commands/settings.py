"""`settings [workspace] [reset | NAME VALUE …]` on the text surfaces (the console, Slack's
`/falbot settings`): names as people type them (`aspect 16:9`, `count 2`, `remix on`), and
`default` to clear one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.text_commands.grammar import did_you_mean, usage_error
from core.preferences import Scope

# The names typed, and the setting each stands for.
NAMES = {
    "model": "model",
    "aspect": "aspect_ratio",
    "count": "num_images",
    "remix": "remix",
    "private": "private",
}
CLEAR = "default"  # `aspect default`: not set here, the level below decides


@dataclass(frozen=True)
class SettingsLine:
    scope: Scope = "user"
    reset: bool = False
    changes: dict[str, Any] = field(default_factory=dict)


def usage(prefix: str) -> str:
    names = "|".join(NAMES)
    return f"`{prefix}settings [workspace] [reset | {names} VALUE …]`"


def read_settings(words: list[str], *, prefix: str = "/") -> SettingsLine:
    """The scope, and either reset or the changes (`NAME VALUE` pairs), from a line's words."""
    shown = usage(prefix)
    rest = list(words)
    scope: Scope = "user"
    if rest and rest[0].lower() == "workspace":
        scope, rest = "workspace", words[1:]
    if [w.lower() for w in rest] == ["reset"]:
        return SettingsLine(scope, reset=True)
    if len(rest) % 2:
        raise usage_error("Give each setting a value.", shown)
    changes: dict[str, Any] = {}
    for name, value in zip(rest[::2], rest[1::2], strict=True):
        key = NAMES.get(name.lower())
        if key is None:
            hint = did_you_mean(name.lower(), NAMES)
            raise usage_error(f"There is no setting `{name[:30]}`.{hint}", shown)
        changes[key] = None if value.lower() == CLEAR else value
    return SettingsLine(scope, changes=changes)
