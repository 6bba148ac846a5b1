"""The job slash commands: /imagine, /edit, /upscale, /video, with model autocomplete."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any, get_args

import discord
from discord import app_commands

from adapters.discord.deps import Deps
from adapters.discord.identity import workspace_of
from adapters.discord.interactions import answering, start_job
from core.catalog import ModelSpec
from core.commands import Generate
from core.jobs import JobKind
from core.model_inputs import ImageAspect

log = logging.getLogger(__name__)

Autocomplete = Callable[
    [discord.Interaction[Any], str], Coroutine[Any, Any, list[app_commands.Choice[str]]]
]
IMAGE_ASPECTS = [app_commands.Choice(name=a, value=a) for a in get_args(ImageAspect)]
VIDEO_ASPECTS = [app_commands.Choice(name=a, value=a) for a in ("16:9", "9:16", "1:1")]
SEED = app_commands.Range[int, 0, 2**32 - 1]
COUNT = app_commands.Range[int, 1, 4]
PROMPT = app_commands.Range[str, 1, 2000]


def model_choice(spec: ModelSpec) -> app_commands.Choice[str]:
    label = f"{spec.name} · {spec.price_text} · {spec.description}"
    return app_commands.Choice(name=label[:100], value=spec.name)


def model_autocomplete(deps: Deps, *kinds: JobKind) -> Autocomplete:
    """The catalog's models of these kinds that this guild allows, matching what is typed."""

    async def complete(
        interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        workspace = workspace_of(interaction.guild_id, interaction.user.id, deps.dms)
        typed = current.strip().lower()
        specs = await deps.engine.models(workspace)
        return [
            model_choice(s) for s in specs if (not kinds or s.kind in kinds) and typed in s.name
        ][:25]

    return complete


PRIVATE_HELP = "Only you see the progress and the result, and fal keeps nothing"


def job_commands(deps: Deps) -> list[app_commands.Command[Any, Any, Any]]:
    @app_commands.command(name="imagine", description="Make images from a text prompt")
    @app_commands.describe(
        prompt="What to draw",
        model="Which model (default: yours from /settings, else the workspace's)",
        aspect="Aspect ratio",
        count="How many images (1–4)",
        seed="Seed, to make a result repeatable",
        private=PRIVATE_HELP,
    )
    @app_commands.choices(aspect=IMAGE_ASPECTS)
    async def imagine(
        interaction: discord.Interaction,
        *,
        prompt: PROMPT,
        model: str | None = None,
        aspect: str | None = None,
        count: COUNT | None = None,
        seed: SEED | None = None,
        private: bool | None = None,
    ) -> None:
        options = {"prompt": prompt, "aspect_ratio": aspect, "num_images": count, "seed": seed}
        command = Generate(JobKind.IMAGE, model or "", options, private=private)
        async with answering(interaction):
            await start_job(deps, interaction, command)

    @app_commands.command(name="edit", description="Edit an image with a text instruction")
    @app_commands.describe(
        prompt="What to change",
        image="The image to edit",
        image2="Another image (for models that combine several)",
        image3="Another image",
        model="Which edit model",
        aspect="Aspect ratio of the result",
        count="How many results (1–4)",
        seed="Seed, to make a result repeatable",
        private=PRIVATE_HELP,
    )
    @app_commands.choices(aspect=IMAGE_ASPECTS)
    async def edit(
        interaction: discord.Interaction,
        *,
        prompt: PROMPT,
        image: discord.Attachment,
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        model: str | None = None,
        aspect: str | None = None,
        count: COUNT | None = None,
        seed: SEED | None = None,
        private: bool | None = None,
    ) -> None:
        options = {"prompt": prompt, "aspect_ratio": aspect, "num_images": count, "seed": seed}
        command = Generate(JobKind.EDIT, model or "", options, private=private)
        attachments = [a for a in (image, image2, image3) if a is not None]
        async with answering(interaction):
            await start_job(deps, interaction, command, attachments=attachments)

    @app_commands.command(name="upscale", description="Upscale an image")
    @app_commands.describe(
        image="The image to upscale", scale="How much larger", model="Model", private=PRIVATE_HELP
    )
    @app_commands.choices(scale=[app_commands.Choice(name=f"×{n}", value=n) for n in (2, 3, 4)])
    async def upscale(
        interaction: discord.Interaction,
        *,
        image: discord.Attachment,
        scale: int | None = None,
        model: str | None = None,
        private: bool | None = None,
    ) -> None:
        command = Generate(JobKind.UPSCALE, model or "", {"scale": scale}, private=private)
        async with answering(interaction):
            await start_job(deps, interaction, command, attachments=[image])

    @app_commands.command(name="video", description="Make a short video from a text prompt")
    @app_commands.describe(
        prompt="What happens in the video",
        model="Which video model",
        duration="Seconds (each model offers its own lengths; see /models)",
        aspect="Aspect ratio",
        private=PRIVATE_HELP,
    )
    @app_commands.choices(aspect=VIDEO_ASPECTS)
    async def video(
        interaction: discord.Interaction,
        *,
        prompt: PROMPT,
        model: str | None = None,
        duration: app_commands.Range[int, 1, 20] | None = None,
        aspect: str | None = None,
        private: bool | None = None,
    ) -> None:
        options = {"prompt": prompt, "duration": duration, "aspect_ratio": aspect}
        command = Generate(JobKind.VIDEO, model or "", options, private=private)
        async with answering(interaction):
            await start_job(deps, interaction, command)

    imagine.autocomplete("model")(model_autocomplete(deps, JobKind.IMAGE))
    edit.autocomplete("model")(model_autocomplete(deps, JobKind.EDIT))
    upscale.autocomplete("model")(model_autocomplete(deps, JobKind.UPSCALE))
    video.autocomplete("model")(model_autocomplete(deps, JobKind.VIDEO))
    return [imagine, edit, upscale, video]
