"""The buttons under every result. Their `custom_id`s carry the action, the job id and, on a
grid, the image (`falbot:zoom_2:<job>:2`), so a click works whichever process (or restart) sees
it: `DynamicItem` matches them by template. Which buttons a result gets is core's decision
(`core.followups.follow_up_menu`); this module only lays them out.

One image: fifteen buttons in Discord's five rows (Vary, Rerun / Upscale, Animate / Zoom,
Edit, Edit region / the four pans / Delete). A grid (up to four images) cannot have a button
per verb per image (52 > 25), so each image gets a select menu of every verb (a select takes a
whole row: four rows), and the fifth row holds Rerun and Delete. Every verb stays one choice
away for every image, and nothing is hidden behind an extra message, unlike Midjourney's U1–U4
first step."""

from __future__ import annotations

import logging
import re
from typing import Any, Literal, Protocol, cast, get_args

import discord

from adapters.discord.suggestion_button import suggestion_buttons
from core.followups import follow_up_menu
from core.jobs import Delivery
from core.verbs import VERBS

log = logging.getLogger(__name__)

Action = Literal[
    "rerun",
    "edit",
    "region",
    "delete",
    "vary_subtle",
    "vary_strong",
    "upscale",
    "upscale_creative",
    "zoom_2",
    "zoom_1.5",
    "pan_left",
    "pan_right",
    "pan_up",
    "pan_down",
    "animate",
]
_ACTIONS = "|".join(re.escape(a) for a in get_args(Action))
# `vary`: issue 12's Variations button, on results posted before the Vary pair; it now varies
# strongly (a new take on the picture, as Variations was).
_TEMPLATE = rf"falbot:(?P<action>{_ACTIONS}|vary):(?P<job>[0-9a-f]{{32}})(?::(?P<image>[1-9]\d?))?"
_PICK_TEMPLATE = r"falbot:pick:(?P<job>[0-9a-f]{32}):(?P<image>[1-9]\d?)"
_GREY, _BLUE, _RED = (
    discord.ButtonStyle.secondary,
    discord.ButtonStyle.primary,
    discord.ButtonStyle.danger,
)
_LABELS = {v.action: v.label for v in VERBS}
# (label, emoji, style, row) of each button under one image.
_LOOKS: dict[str, tuple[str | None, str | None, discord.ButtonStyle, int]] = {
    "vary_subtle": ("Vary (Subtle)", "🎲", _GREY, 0),
    "vary_strong": ("Vary (Strong)", "🎲", _GREY, 0),
    "rerun": ("Rerun", "🔁", _GREY, 0),
    "upscale": ("Upscale (Subtle)", "🔍", _GREY, 1),
    "upscale_creative": ("Upscale (Creative)", "🔍", _GREY, 1),
    "animate": ("Animate", "🎬", _GREY, 1),
    "zoom_2": ("Zoom Out 2×", "🔭", _GREY, 2),
    "zoom_1.5": ("Zoom Out 1.5×", "🔭", _GREY, 2),
    "edit": ("Edit", "✏️", _BLUE, 2),
    "region": ("Edit region", "🖌️", _GREY, 2),
    "pan_left": (None, "⬅️", _GREY, 3),
    "pan_right": (None, "➡️", _GREY, 3),
    "pan_up": (None, "⬆️", _GREY, 3),
    "pan_down": (None, "⬇️", _GREY, 3),
    "delete": ("Delete", "🗑️", _RED, 4),
}


class ButtonHandler(Protocol):
    async def __call__(
        self, interaction: discord.Interaction, action: Action, job_id: str, image: int | None
    ) -> None: ...


class HasButtonHandler(Protocol):
    result_buttons: ButtonHandler


def custom_id(action: str, job_id: str, image: int | None = None) -> str:
    """`image` is 0-based; the id carries it 1-based, as the menu's placeholder does."""
    tail = "" if image is None else f":{image + 1}"
    return f"falbot:{action}:{job_id}{tail}"


class ResultButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_TEMPLATE):
    def __init__(self, action: Action, job_id: str, image: int | None = None) -> None:
        label, emoji, style, row = _LOOKS[action]
        super().__init__(
            discord.ui.Button(
                label=label, emoji=emoji, style=style, custom_id=custom_id(action, job_id, image)
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
        action = "vary_strong" if match["action"] == "vary" else match["action"]
        return cls(cast(Action, action), match["job"], image)

    async def callback(self, interaction: discord.Interaction) -> None:
        handler = cast(HasButtonHandler, interaction.client).result_buttons
        await handler(interaction, self.action, self.job_id, self.image)


class ImageMenu(discord.ui.DynamicItem[discord.ui.Select[Any]], template=_PICK_TEMPLATE):
    """A grid image's select menu: every verb, Edit among them, for that image."""

    def __init__(self, job_id: str, image: int) -> None:
        options = [
            discord.SelectOption(label=label, value=action) for action, label in _LABELS.items()
        ]
        options[2:2] = [
            discord.SelectOption(label="Edit…", value="edit"),
            discord.SelectOption(label="Edit region…", value="region"),
        ]
        super().__init__(
            discord.ui.Select(
                custom_id=custom_id("pick", job_id, image),
                placeholder=f"Image {image + 1}: vary, upscale, zoom, pan, animate, edit…",
                options=options,
            ),
            row=image,
        )
        self.job_id = job_id
        self.image = image

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ImageMenu:
        return cls(match["job"], int(match["image"]) - 1)

    async def callback(self, interaction: discord.Interaction) -> None:
        # Only the menu's own choices come back; anything else core refuses as a broken button.
        picked = self.item.values[0] if self.item.values else ""
        handler = cast(HasButtonHandler, interaction.client).result_buttons
        await handler(interaction, cast(Action, picked), self.job_id, self.image)


def result_view(delivery: Delivery) -> discord.ui.View:
    """One image: every verb, Rerun, Edit, Edit region and Delete as buttons. A grid: a menu per
    image shown, then Rerun and Delete. A video: Rerun and Delete. Nothing acts on a withheld
    output."""
    job_id = delivery.job.id
    menu = follow_up_menu(delivery, spoilers=True)
    view = discord.ui.View(timeout=None)
    if menu.grid:
        for image in menu.images:
            view.add_item(ImageMenu(job_id, image))
        row = len(menu.images)
        if menu.rerun:
            view.add_item(_in_row(ResultButton("rerun", job_id), row))
        view.add_item(_in_row(ResultButton("delete", job_id), row))
        return view
    for action in _LOOKS:
        shown = menu.rerun if action == "rerun" else bool(menu.images)
        if action != "delete" and shown:
            view.add_item(ResultButton(cast(Action, action), job_id))
    for suggestion in suggestion_buttons(delivery):  # a describe's: Imagine 1…4
        view.add_item(suggestion)
    view.add_item(ResultButton("delete", job_id))
    return view


def _in_row(item: ResultButton, row: int) -> ResultButton:
    item.row = row
    return item
