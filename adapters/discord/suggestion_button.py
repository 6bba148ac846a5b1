"""The Imagine 1…4 buttons under a describe's suggestions. Like the result buttons, a button
only names the job and the suggestion (`falbot:imagine:<job>:2`), so it works after a
restart; what a press does is the client's `imagine_suggestion` handler."""

from __future__ import annotations

import re
from typing import Any, Protocol, cast

import discord

from core.jobs import Delivery

_TEMPLATE = r"falbot:imagine:(?P<job>[0-9a-f]{32}):(?P<n>[1-9])"


class SuggestionHandler(Protocol):
    async def __call__(self, interaction: discord.Interaction, job_id: str, index: int) -> None: ...


class HasSuggestionHandler(Protocol):
    imagine_suggestion: SuggestionHandler


class SuggestionButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_TEMPLATE):
    def __init__(self, job_id: str, index: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Imagine {index + 1}",
                emoji="🎨",
                style=discord.ButtonStyle.primary,
                custom_id=f"falbot:imagine:{job_id}:{index + 1}",
            )
        )
        self.job_id = job_id
        self.index = index  # 0-based

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> SuggestionButton:
        return cls(match["job"], int(match["n"]) - 1)

    async def callback(self, interaction: discord.Interaction) -> None:
        handler = cast(HasSuggestionHandler, interaction.client).imagine_suggestion
        await handler(interaction, self.job_id, self.index)


def suggestion_buttons(delivery: Delivery) -> list[SuggestionButton]:
    """One Imagine button per suggestion of a describe's result."""
    return [SuggestionButton(delivery.job.id, i) for i in range(len(delivery.result.texts))]
