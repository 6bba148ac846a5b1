"""Message context menu **Edit image** → a modal (prompt, model) → an edit job on the message's
images. Discord always shows a context menu its target's attachments, with or without the
message-content intent, so this works everywhere."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord
from discord import app_commands

from adapters.discord.deps import Deps
from adapters.discord.identity import interaction_actor
from adapters.discord.interactions import admit_dm, answering, channel_of, start_job
from adapters.discord.media import check_attachments, images_of
from core.commands import Generate
from core.errors import invalid
from core.jobs import JobKind

MODAL_TIMEOUT = 600.0


class PromptModal(discord.ui.Modal):
    """A prompt and an optional model; `submitted` does the rest."""

    prompt: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="What should change?",
        style=discord.TextStyle.paragraph,
        max_length=2000,
        placeholder="make the sky stormy, add a lighthouse",
    )
    model: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Model (optional)", required=False, max_length=40
    )

    def __init__(self, deps: Deps, *, title: str, default_model: str) -> None:
        super().__init__(title=title, timeout=MODAL_TIMEOUT)
        self.model.placeholder = default_model
        self._services = deps

    async def on_submit(self, interaction: discord.Interaction) -> None:
        if not await admit_dm(self._services, interaction):
            return
        async with answering(interaction):
            await self.submitted(interaction, self.prompt.value, self.model.value.strip())

    async def submitted(self, interaction: discord.Interaction, prompt: str, model: str) -> None:
        raise NotImplementedError


class EditImageModal(PromptModal):
    def __init__(self, deps: Deps, images: Sequence[discord.Attachment]) -> None:
        default = deps.models.default_for(JobKind.EDIT).name
        super().__init__(deps, title="Edit image", default_model=default)
        self._images = list(images)

    async def submitted(self, interaction: discord.Interaction, prompt: str, model: str) -> None:
        spec = self._services.models.for_kind(JobKind.EDIT, model)
        images = self._images[: max(1, spec.max_input_images)]
        command = Generate(JobKind.EDIT, spec.name, {"prompt": prompt})
        await start_job(self._services, interaction, command, attachments=images)  # screens again


async def screen_images(
    deps: Deps, interaction: discord.Interaction, images: Sequence[discord.Attachment]
) -> bool:
    """Whether the images hold a falbot result flagged NSFW; refused where it is not shown."""
    return await deps.engine.screen_files(
        interaction_actor(interaction, deps.rule).workspace_id,
        [a.filename for a in images],
        channel=channel_of(interaction),
    )


def edit_image_menu(deps: Deps) -> app_commands.ContextMenu:
    async def edit_image(interaction: discord.Interaction, message: discord.Message) -> None:
        async with answering(interaction):
            images = images_of(message)
            if not images:
                raise invalid(
                    "That message has no image I can edit.",
                    "Use Edit image on a message with a PNG, JPEG, WebP or GIF attached.",
                )
            check_attachments(images, max_bytes=deps.max_input_bytes)
            await screen_images(deps, interaction, images)  # withheld: no modal at all
            await interaction.response.send_modal(EditImageModal(deps, images))

    return app_commands.ContextMenu(name="Edit image", callback=edit_image)
