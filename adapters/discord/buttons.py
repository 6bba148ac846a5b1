"""The buttons under every result. Their `custom_id`s carry the action and the job id, so a
click works whichever process (or restart) sees it: `DynamicItem` matches them by template."""

from __future__ import annotations

import logging
import re
from typing import Any, Literal, Protocol, cast

import discord

from core.jobs import Job, JobKind

log = logging.getLogger(__name__)

Action = Literal["rerun", "upscale", "edit", "delete"]
_TEMPLATE = r"falbot:(?P<action>rerun|upscale|edit|delete):(?P<job>[0-9a-f]{32})"
_LOOKS = {
    "rerun": ("Rerun", "🔁", discord.ButtonStyle.secondary),
    "upscale": ("Upscale", "🔍", discord.ButtonStyle.secondary),
    "edit": ("Edit", "✏️", discord.ButtonStyle.primary),
    "delete": ("Delete", "🗑️", discord.ButtonStyle.danger),
}


class ButtonHandler(Protocol):
    async def __call__(
        self, interaction: discord.Interaction, action: Action, job_id: str
    ) -> None: ...


class HasButtonHandler(Protocol):
    result_buttons: ButtonHandler


def custom_id(action: Action, job_id: str) -> str:
    return f"falbot:{action}:{job_id}"


class ResultButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_TEMPLATE):
    def __init__(self, action: Action, job_id: str) -> None:
        label, emoji, style = _LOOKS[action]
        super().__init__(
            discord.ui.Button(
                label=label, emoji=emoji, style=style, custom_id=custom_id(action, job_id)
            )
        )
        self.action: Action = action
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ResultButton:
        return cls(cast(Action, match["action"]), match["job"])

    async def callback(self, interaction: discord.Interaction) -> None:
        handler = cast(HasButtonHandler, interaction.client).result_buttons
        await handler(interaction, self.action, self.job_id)


def result_view(job: Job) -> discord.ui.View:
    """Rerun, Upscale, Edit and Delete; Upscale and Edit only where there is an image."""
    actions: list[Action] = ["rerun"]
    if job.kind is not JobKind.VIDEO:
        actions += ["upscale", "edit"]
    actions.append("delete")
    view = discord.ui.View(timeout=None)
    for action in actions:
        view.add_item(ResultButton(action, job.id))
    return view
