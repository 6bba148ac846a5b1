"""What the buttons (and a grid's menus) under a result do: Rerun, Edit and the image verbs start
a new job (charged like any other) whose reply is a new message; Delete removes the result.
Core decides who may: anyone here for an image verb, the requester or an admin for the rest."""

from __future__ import annotations

import logging

import discord

from adapters.discord.buttons import Action
from adapters.discord.context_menu import PromptModal
from adapters.discord.deps import Deps
from adapters.discord.identity import interaction_actor
from adapters.discord.interactions import admit_dm, answering, channel_of, start_job
from adapters.discord.region import edit_region
from adapters.discord.remix import open_remix
from core.commands import FollowUp, FollowUpAction
from core.jobs import Job, JobKind

log = logging.getLogger(__name__)


class ResultButtons:
    """The handler `ResultButton` calls, whichever client instance it runs in."""

    def __init__(self, deps: Deps) -> None:
        self._services = deps

    async def __call__(
        self, interaction: discord.Interaction, action: Action, job_id: str, image: int | None
    ) -> None:
        if not await admit_dm(self._services, interaction):
            return
        async with answering(interaction):
            engine = self._services.engine
            actor = interaction_actor(interaction, self._services.rule)
            if action == "delete":
                await engine.own_job(actor, job_id, doing="delete")
                await interaction.response.defer()
                await interaction.delete_original_response()
            elif action == "region":
                await edit_region(self._services, interaction, job_id, image)
            elif action == "edit":
                # Not the caller's, or a withheld image: refused before the modal asks.
                command = FollowUp(job_id, "edit", image_index=image)
                job = await engine.check_follow_up(
                    command, actor=actor, channel=channel_of(interaction)
                )
                await interaction.response.send_modal(EditResultModal(self._services, job, image))
            else:
                follow: FollowUpAction = action
                command = FollowUp(job_id, follow, image_index=image)
                if await open_remix(self._services, interaction, actor, command):
                    return  # remix mode: the modal's prompt starts the job
                await start_job(self._services, interaction, command)


class EditResultModal(PromptModal):
    def __init__(self, deps: Deps, job: Job, image: int | None) -> None:
        default = deps.models.default_for(JobKind.EDIT).name
        title = "Edit this result" if image is None else f"Edit image {image + 1}"
        super().__init__(deps, title=title, default_model=default)
        self._job = job
        self._image = image

    async def submitted(self, interaction: discord.Interaction, prompt: str, model: str) -> None:
        # discord.py routes a modal's submission by its custom_id alone, and rights can change
        # while it is open: core checks the submitter against the job again, now.
        command = FollowUp(
            self._job.id, "edit", image_index=self._image, prompt=prompt, model=model or None
        )
        await start_job(self._services, interaction, command)
