"""/settings: an ephemeral panel of select menus (image model, aspect, count, the modes) and a
Reset button, for the person's own defaults or (admins, `workspace:True`) the workspace's.

The menus' `custom_id`s carry the scope and the setting (`falbot:set:me:aspect_ratio`), so a
menu works after a restart; the person is the one who uses it (the panel is theirs alone), and
core checks an admin's right on every workspace change."""

from __future__ import annotations

import re
from typing import Any, Literal, Protocol, cast

import discord
from discord import app_commands

from adapters.discord import render
from adapters.discord.deps import Deps
from adapters.discord.identity import interaction_actor
from adapters.discord.interactions import admit_dm, answering
from core.jobs import Actor
from core.preferences import Scope
from core.settings_view import (
    LABELS,
    MODES,
    MODES_MENU,
    Choice,
    choose,
    field_choices,
    mode_choices,
    render_settings,
)

Menu = Literal["model", "aspect_ratio", "num_images", "modes"]
_SCOPES: dict[str, Scope] = {"me": "user", "ws": "workspace"}
_CODES = {scope: code for code, scope in _SCOPES.items()}
_FIELD_MENUS: tuple[Literal["model", "aspect_ratio", "num_images"], ...] = (
    "model",
    "aspect_ratio",
    "num_images",
)
_PLACEHOLDERS: dict[str, str] = {name: label for name, label in LABELS.items()}
_PLACEHOLDERS[MODES_MENU] = "Modes (remix, private): choose the ones on"
_MENU_TEMPLATE = r"falbot:set:(?P<scope>me|ws):(?P<menu>model|aspect_ratio|num_images|modes)"
_RESET_TEMPLATE = r"falbot:set:(?P<scope>me|ws):reset"
CHANGE = "Change them with the menus below; Reset puts back the defaults."


class HasDeps(Protocol):
    deps: Deps


def _deps(interaction: discord.Interaction) -> Deps:
    return cast(HasDeps, interaction.client).deps


async def panel(deps: Deps, actor: Actor, scope: Scope) -> tuple[str, discord.ui.View]:
    """The panel's text and menus as they stand now."""
    book = deps.engine.preferences
    settings = await book.settings(actor)
    models = await deps.engine.models(actor.workspace_id)
    text = render.block(render_settings(settings, scope=scope, change=CHANGE))
    view = discord.ui.View(timeout=None)
    for row, field in enumerate(_FIELD_MENUS):
        choices = field_choices(field, settings, scope=scope, models=models)
        view.add_item(SettingMenu(scope, field, choices, row=row))
    view.add_item(SettingMenu(scope, "modes", mode_choices(settings, scope=scope), row=3))
    view.add_item(ResetButton(scope, row=4))
    return text, view


def _select(
    scope: Scope, menu: Menu, options: list[discord.SelectOption]
) -> discord.ui.Select[Any]:
    modes = menu == MODES_MENU
    return discord.ui.Select(
        custom_id=f"falbot:set:{_CODES[scope]}:{menu}",
        placeholder=_PLACEHOLDERS[menu],
        options=options,
        min_values=0 if modes else 1,
        max_values=len(MODES) if modes else 1,
    )


class SettingMenu(discord.ui.DynamicItem[discord.ui.Select[Any]], template=_MENU_TEMPLATE):
    def __init__(
        self, scope: Scope, menu: Menu, choices: list[Choice], *, row: int | None = None
    ) -> None:
        options = [
            discord.SelectOption(label=c.label[:100], value=c.value, default=c.chosen)
            for c in choices
        ]
        super().__init__(_select(scope, menu, options), row=row)
        self.scope: Scope = scope
        self.menu: Menu = menu

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> SettingMenu:
        options = list(getattr(item, "options", []))
        choices = [Choice(o.value, o.label, o.default) for o in options]
        return cls(_SCOPES[match["scope"]], cast(Menu, match["menu"]), choices)

    async def callback(self, interaction: discord.Interaction) -> None:
        deps = _deps(interaction)
        if not await admit_dm(deps, interaction):
            return
        async with answering(interaction):
            actor = interaction_actor(interaction, deps.rule)
            book = deps.engine.preferences
            await choose(book, actor, self.menu, list(self.item.values), scope=self.scope)
            text, view = await panel(deps, actor, self.scope)
            await interaction.response.edit_message(content=text, view=view)


class ResetButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_RESET_TEMPLATE):
    def __init__(self, scope: Scope, *, row: int | None = None) -> None:
        label = "Reset mine" if scope == "user" else "Reset the workspace's"
        super().__init__(
            discord.ui.Button(
                label=label,
                emoji="↩️",
                style=discord.ButtonStyle.secondary,
                custom_id=f"falbot:set:{_CODES[scope]}:reset",
            ),
            row=row,
        )
        self.scope: Scope = scope

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ResetButton:
        return cls(_SCOPES[match["scope"]])

    async def callback(self, interaction: discord.Interaction) -> None:
        deps = _deps(interaction)
        if not await admit_dm(deps, interaction):
            return
        async with answering(interaction):
            actor = interaction_actor(interaction, deps.rule)
            await deps.engine.preferences.reset(actor, scope=self.scope)
            text, view = await panel(deps, actor, self.scope)
            await interaction.response.edit_message(content=text, view=view)


def settings_command(deps: Deps) -> app_commands.Command[Any, Any, Any]:
    @app_commands.command(
        name="settings",
        description="Your defaults for new jobs: model, aspect, count, remix and private mode",
    )
    @app_commands.describe(
        reset="Forget your settings: the defaults apply again",
        workspace="Admins: the workspace's defaults instead of your own",
    )
    async def settings(
        interaction: discord.Interaction, reset: bool = False, workspace: bool = False
    ) -> None:
        async with answering(interaction):
            actor = interaction_actor(interaction, deps.rule)
            scope: Scope = "workspace" if workspace else "user"
            book = deps.engine.preferences
            if reset:
                await book.reset(actor, scope=scope)
            else:
                book.check_scope(actor, scope)
            text, view = await panel(deps, actor, scope)
            if reset:
                whose = "Your settings are" if scope == "user" else "The workspace's defaults are"
                text = render.fit(f"{whose} reset.\n{text}")
            await interaction.response.send_message(text, view=view, ephemeral=True)

    return settings
