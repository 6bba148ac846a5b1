"""Remix mode on Discord: a press of Rerun (and Vary, Pan, Zoom as they come) by someone with
remix mode on first opens a modal with the job's prompt to change. Core decides when
(`PreferenceBook.wants_remix`); the modal's prompt rides on the same follow-up."""

from __future__ import annotations

import dataclasses
from typing import Any

import discord

from adapters.discord.deps import Deps
from adapters.discord.interactions import admit_dm, answering, channel_of, start_job
from core.commands import FollowUp
from core.jobs import Actor
from core.model_inputs import MAX_PROMPT
from core.verbs import BY_ACTION

MODAL_TIMEOUT = 600.0
_TITLES = {
    "rerun": "Remix: rerun",
    "vary": "Remix: vary",
    "pan": "Remix: pan",
    "zoom": "Remix: zoom",
}


async def open_remix(
    deps: Deps, interaction: discord.Interaction, actor: Actor, command: FollowUp
) -> bool:
    """Open the remix modal for `command` when the actor's remix mode asks for it (the job
    checked as theirs first); False when the press should go ahead as it is."""
    # The job as core lets this person act on it (the image verbs are anyone's).
    job = await deps.engine.check_follow_up(command, actor=actor, channel=channel_of(interaction))
    if not await deps.engine.preferences.wants_remix(actor, command.action, job):
        return False
    prompt = str(job.arguments.get("prompt") or "")
    await interaction.response.send_modal(RemixModal(deps, command, prompt))
    return True


class RemixModal(discord.ui.Modal):
    prompt: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Prompt", style=discord.TextStyle.paragraph, max_length=MAX_PROMPT
    )

    def __init__(self, deps: Deps, command: FollowUp, prompt: str) -> None:
        verb = BY_ACTION.get(command.action)
        title = f"Remix: {verb.label}" if verb else _TITLES.get(command.action, "Remix")
        super().__init__(title=title, timeout=MODAL_TIMEOUT)
        self.prompt.default = prompt[:MAX_PROMPT]
        self._services = deps
        self._command = command

    async def on_submit(self, interaction: discord.Interaction) -> None:
        if not await admit_dm(self._services, interaction):
            return
        async with answering(interaction):
            # Core checks the submitter against the job again: rights can change meanwhile.
            command = dataclasses.replace(self._command, prompt=self.prompt.value)
            await start_job(self._services, interaction, command)
