"""What the buttons under a result do: Rerun, Upscale and Edit start a new job (charged like any
other) whose reply is a new message; Delete removes the result. Each needs the requester or an
admin, which `Engine.find_job` decides."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

import discord

from adapters.discord.buttons import Action
from adapters.discord.context_menu import PromptModal
from adapters.discord.flows import (
    RequestFor,
    admit_dm,
    answering,
    nsfw_channel_of,
    start_job,
)
from adapters.discord.identity import interaction_actor
from adapters.discord.services import Services
from core.errors import BotError, ErrorCode
from core.jobs import Actor, InputImage, Job, JobKind, JobRequest

log = logging.getLogger(__name__)

FollowUp = Literal["rerun", "upscale", "edit"]


class ResultButtons:
    """The handler `ResultButton` calls, whichever client instance it runs in."""

    def __init__(self, services: Services) -> None:
        self._services = services

    async def __call__(
        self, interaction: discord.Interaction, action: Action, job_id: str, image: int | None
    ) -> None:
        if not await admit_dm(self._services, interaction):
            return
        async with answering(interaction):
            job = await own_job(self._services, interaction, job_id, action)
            if action == "delete":
                await interaction.response.defer()
                await interaction.delete_original_response()
            elif action == "edit":
                # A withheld image is refused before the modal asks for a prompt.
                await self._services.engine.check_follow_up(
                    job,
                    image=image,
                    nsfw_channel=nsfw_channel_of(interaction.channel),
                    spoilers=True,
                )
                await interaction.response.send_modal(EditResultModal(self._services, job, image))
            else:
                request = follow_up_request(self._services, job, action, image=image)
                await start_job(self._services, interaction, request)


async def own_job(
    services: Services, interaction: discord.Interaction, job_id: str, action: Action
) -> Job:
    actor = interaction_actor(interaction, services.rule)
    try:
        return await services.engine.find_job(actor, job_id)
    except BotError as exc:
        if exc.code is not ErrorCode.NOT_FOUND:
            raise
        raise BotError(
            ErrorCode.NOT_ALLOWED,
            f"Only the person who asked for this result, or an admin, can {action} it.",
            hint="Use /imagine or /edit to make your own.",
        ) from exc


def follow_up_request(
    services: Services,
    job: Job,
    action: FollowUp,
    *,
    prompt: str | None = None,
    model: str | None = None,
    image: int | None = None,
) -> RequestFor:
    def build(
        actor: Actor, reply_ref: Mapping[str, Any], images: tuple[InputImage, ...]
    ) -> JobRequest:
        return services.engine.follow_up(
            job,
            action=action,
            actor=actor,
            reply_ref=reply_ref,
            prompt=prompt,
            model=model,
            index=image,
        )

    return build


class EditResultModal(PromptModal):
    def __init__(self, services: Services, job: Job, image: int | None) -> None:
        default = services.engine.catalog.default_for(JobKind.EDIT).name
        title = "Edit this result" if image is None else f"Edit image {image + 1}"
        super().__init__(services, title=title, default_model=default)
        self._job = job
        self._image = image

    async def submitted(self, interaction: discord.Interaction, prompt: str, model: str) -> None:
        # discord.py routes a modal's submission by its custom_id alone, and rights can change
        # while it is open: check the submitter against the job again, now.
        job = await own_job(self._services, interaction, self._job.id, "edit")
        request = follow_up_request(
            self._services, job, "edit", prompt=prompt, model=model or None, image=self._image
        )
        await start_job(self._services, interaction, request)
