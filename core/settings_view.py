"""What a /settings panel shows, the same on every platform: each setting's value and where it
comes from, and the choices each menu offers (adapters lay them out as select menus)."""

from __future__ import annotations

from dataclasses import dataclass

from core.catalog import ModelSpec
from core.jobs import Actor, JobKind
from core.preferences import ASPECTS, COUNTS, FIELDS, Field, PreferenceBook, Scope, Settings

LABELS: dict[Field, str] = {
    "model": "Image model",
    "aspect_ratio": "Aspect",
    "num_images": "Count",
    "remix": "Remix mode",
    "private": "Private mode",
}
MODES: tuple[Field, ...] = ("remix", "private")  # the on/off settings
_MODE_NOTES: dict[Field, str] = {
    "remix": "when on, Rerun, Vary, Pan and Zoom first open the prompt to change",
    "private": "when on, your results are shown to you alone",
}
UNSET = "-"  # a menu's value for "not set here": the level below decides
MODES_MENU = "modes"  # the menu of the on/off settings


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    chosen: bool = False


def shown(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def render_settings(settings: Settings, *, scope: Scope, change: str) -> str:
    """The panel's text (core markup); `change`, its last line, says how to change them and
    put back the defaults on the platform."""
    values = settings.shown(scope)
    if scope == "user":
        lines = ["**Your settings**: your next jobs here use them; nobody else's do."]
    else:
        lines = ["**This workspace's defaults**: for everyone here who has not set their own."]
    for name in FIELDS:
        value = shown(getattr(values, name))
        if name == "model":
            value = f"`{value}`"
        note = f": {_MODE_NOTES[name]}" if name in _MODE_NOTES else ""
        lines.append(f"• {LABELS[name]}: {value} ({settings.source(name, scope=scope)}){note}")
    lines.append(change)
    return "\n".join(lines)


def field_choices(
    name: Field, settings: Settings, *, scope: Scope, models: list[ModelSpec]
) -> list[Choice]:
    """A menu's choices for model, aspect or count: "the default" first (clears the setting
    at this level), then each value, the one set here marked."""
    own = settings.own if scope == "user" else settings.workspace
    current = getattr(own, name)
    below = "workspace default" if scope == "user" else "falbot default"
    choices = [Choice(UNSET, f"Use the {below}", chosen=current is None)]
    if name == "model":
        values = [(s.name, f"{s.name} · {s.price_text}") for s in models if s.kind is JobKind.IMAGE]
    elif name == "aspect_ratio":
        values = [(a, a) for a in ASPECTS]
    else:
        values = [(str(n), f"{n} image{'s' if n > 1 else ''}") for n in COUNTS]
    choices += [Choice(v, label[:100], chosen=str(current) == v) for v, label in values]
    return choices


def mode_choices(settings: Settings, *, scope: Scope) -> list[Choice]:
    """The on/off settings as one multi-choice menu: a chosen one is on."""
    values = settings.shown(scope)
    return [Choice(name, LABELS[name], chosen=bool(getattr(values, name))) for name in MODES]


async def choose(
    book: PreferenceBook, actor: Actor, menu: str, values: list[str], *, scope: Scope
) -> Settings:
    """A panel's menu answered: `menu` is a field's name (one value; `UNSET` clears it) or
    `MODES_MENU` (the modes chosen are on, the others off)."""
    if menu == MODES_MENU:
        return await book.change(actor, {m: m in values for m in MODES}, scope=scope)
    value = values[0] if values else UNSET
    return await book.change(actor, {menu: None if value == UNSET else value}, scope=scope)
