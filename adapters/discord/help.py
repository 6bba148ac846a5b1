"""`/help`: what falbot does, one example per command, and your credits (core's help text)."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from adapters.discord import render
from adapters.discord.deps import Deps
from adapters.discord.identity import interaction_actor
from adapters.discord.interactions import answering
from core.errors import BotError
from core.help import render_help


def help_command(deps: Deps) -> app_commands.Command[Any, Any, Any]:
    @app_commands.command(name="help", description="What falbot does, with examples")
    async def help_(interaction: discord.Interaction) -> None:
        async with answering(interaction):
            actor = interaction_actor(interaction, deps.rule)
            try:
                quota = await deps.engine.quota(actor)
            except BotError:
                quota = None  # help is still worth showing without the credits
            text = render_help("discord", quota, admin=actor.is_admin)
            await interaction.response.send_message(render.block(text), ephemeral=True)

    return help_
