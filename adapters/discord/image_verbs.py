"""/describe (four prompt suggestions for an image, each with a button that imagines it) and
/blend (two to five images made one)."""

from __future__ import annotations

from typing import Any, get_args

import discord
from discord import app_commands

from adapters.discord.deps import Deps
from adapters.discord.interactions import admit_dm, answering, start_job
from core.blend import blend_command
from core.commands import FollowUp, Generate
from core.jobs import JobKind
from core.model_inputs import Blend

BLEND_ASPECTS = [
    app_commands.Choice(name=a, value=a)
    for a in get_args(Blend.model_fields["aspect_ratio"].annotation)
]


class ImagineSuggestion:
    """What an Imagine button under a describe does: /imagine of that suggestion, a new job of
    the presser on their own defaults, charged like any other (core checks the describe is
    theirs, or the presser an admin)."""

    def __init__(self, deps: Deps) -> None:
        self._services = deps

    async def __call__(self, interaction: discord.Interaction, job_id: str, index: int) -> None:
        if not await admit_dm(self._services, interaction):
            return
        async with answering(interaction):
            command = FollowUp(job_id, "imagine", image_index=index)
            await start_job(self._services, interaction, command)


def image_verb_commands(deps: Deps) -> list[app_commands.Command[Any, Any, Any]]:
    @app_commands.command(name="describe", description="Four prompt suggestions for an image")
    @app_commands.describe(image="The image to describe")
    async def describe(interaction: discord.Interaction, image: discord.Attachment) -> None:
        async with answering(interaction):
            command = Generate(JobKind.DESCRIBE)
            await start_job(deps, interaction, command, attachments=[image])

    @app_commands.command(name="blend", description="Blend two to five images into one")
    @app_commands.describe(
        image1="An image to blend",
        image2="Another image",
        image3="Another image (optional)",
        image4="Another image (optional)",
        image5="Another image (optional)",
        prompt="How to blend them (optional)",
        aspect="Aspect ratio of the result",
    )
    @app_commands.choices(aspect=BLEND_ASPECTS)
    async def blend(
        interaction: discord.Interaction,
        *,
        image1: discord.Attachment,
        image2: discord.Attachment,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        image5: discord.Attachment | None = None,
        prompt: app_commands.Range[str, 1, 2000] | None = None,
        aspect: str | None = None,
    ) -> None:
        images = [a for a in (image1, image2, image3, image4, image5) if a is not None]
        async with answering(interaction):
            command = blend_command({"aspect_ratio": aspect}, prompt=prompt)
            await start_job(deps, interaction, command, attachments=images)

    return [describe, blend]
