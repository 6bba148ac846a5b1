"""The buttons under every result. Their `custom_id`s carry the action, the job id and, on a
grid, the image (`falbot:upscale:<job>:2`), so a click works whichever process (or restart) sees
it: `DynamicItem` matches them by template. Which buttons a result gets is core's decision
(`core.followups.follow_up_menu`); this module only lays them out."""

from __future__ import annotations

import logging
import re
from typing import Any, Literal, Protocol, cast

import discord

from adapters.discord.suggestion_button import suggestion_buttons
from core.followups import follow_up_menu
from core.jobs import Delivery

log = logging.getLogger(__name__)

Action = Literal["rerun", "vary", "upscale", "edit", "region", "delete"]
_TEMPLATE = (
    r"falbot:(?P<action>rerun|vary|upscale|edit|region|delete)"
    r":(?P<job>[0-9a-f]{32})(?::(?P<image>[1-9]\d?))?"
)
_LOOKS = {
    "rerun": ("Rerun", "🔁", discord.ButtonStyle.secondary),
    "vary": ("Variations", "🎲", discord.ButtonStyle.secondary),
    "upscale": ("Upscale", "🔍", discord.ButtonStyle.secondary),
    "edit": ("Edit", "✏️", discord.ButtonStyle.primary),
    "region": ("Edit region", "🖌️", discord.ButtonStyle.secondary),
    "delete": ("Delete", "🗑️", discord.ButtonStyle.danger),
}

_PER_IMAGE: tuple[Action, ...] = ("upscale", "edit", "region")
_ROWS: dict[Action, int] = {"upscale": 0, "edit": 1, "region": 2}


class ButtonHandler(Protocol):
    async def __call__(
        self, interaction: discord.Interaction, action: Action, job_id: str, image: int | None
    ) -> None: ...


class HasButtonHandler(Protocol):
    result_buttons: ButtonHandler


def custom_id(action: Action, job_id: str, image: int | None = None) -> str:
    """`image` is 0-based; the id carries it 1-based, as the button's label does."""
    tail = "" if image is None else f":{image + 1}"
    return f"falbot:{action}:{job_id}{tail}"


class ResultButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_TEMPLATE):
    def __init__(
        self, action: Action, job_id: str, image: int | None = None, *, row: int | None = None
    ) -> None:
        label, look, style = _LOOKS[action]
        emoji: str | None = look
        if image is not None and action == "region":  # a grid's 🖌️1, 🖌️2…
            label = str(image + 1)
        elif image is not None:  # a grid's U1, E2…: no emoji, so four fit a row
            label, emoji = f"{label[0]}{image + 1}", None
        super().__init__(
            discord.ui.Button(
                label=label,
                emoji=emoji,
                style=style,
                custom_id=custom_id(action, job_id, image),
            ),
            row=row,
        )
        self.action: Action = action
        self.job_id = job_id
        self.image = image

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ResultButton:
        image = int(match["image"]) - 1 if match["image"] else None
        return cls(cast(Action, match["action"]), match["job"], image)

    async def callback(self, interaction: discord.Interaction) -> None:
        handler = cast(HasButtonHandler, interaction.client).result_buttons
        await handler(interaction, self.action, self.job_id, self.image)


def result_view(delivery: Delivery) -> discord.ui.View:
    """Rerun, Variations, Upscale, Edit, Edit region and Delete for one image; on a grid an
    Upscale (U1…), an Edit (E1…) and an Edit region (🖌️1…) per image shown, then Rerun,
    Variations and Delete. Nothing acts on a withheld output."""
    job_id = delivery.job.id
    menu = follow_up_menu(delivery, spoilers=True)
    view = discord.ui.View(timeout=None)
    if menu.grid:
        for action in _PER_IMAGE:
            for image in menu.images:
                view.add_item(ResultButton(action, job_id, image, row=_ROWS[action]))
        if menu.rerun:
            view.add_item(ResultButton("rerun", job_id, row=3))
        if menu.vary:
            view.add_item(ResultButton("vary", job_id, row=3))
        view.add_item(ResultButton("delete", job_id, row=3))
        return view
    if menu.rerun:
        view.add_item(ResultButton("rerun", job_id))
    if menu.vary:
        view.add_item(ResultButton("vary", job_id))
    if menu.images:
        view.add_item(ResultButton("upscale", job_id))
        view.add_item(ResultButton("edit", job_id))
        view.add_item(ResultButton("region", job_id))
    for suggestion in suggestion_buttons(delivery):  # a describe's: Imagine 1…4
        view.add_item(suggestion)
    view.add_item(ResultButton("delete", job_id))
    return view
