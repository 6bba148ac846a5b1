"""Account and catalog commands: /models, /quota, /usage, /jobs, /cancel. Answers are ephemeral."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from adapters.discord import render
from adapters.discord.deps import Deps
from adapters.discord.identity import interaction_actor
from adapters.discord.interactions import answering
from adapters.discord.usage import send_usage
from core.commands import Cancel
from core.render import render_jobs, render_models, render_quota

PERIODS = [
    app_commands.Choice(name="today", value=1),
    app_commands.Choice(name="7 days", value=7),
    app_commands.Choice(name="30 days", value=30),
    app_commands.Choice(name="90 days", value=90),
]


async def say_privately(interaction: discord.Interaction, text: str) -> None:
    await interaction.response.send_message(render.block(text), ephemeral=True)


def account_commands(deps: Deps) -> list[app_commands.Command[Any, Any, Any]]:
    engine = deps.engine

    @app_commands.command(name="models", description="The models you can use here, with prices")
    async def models(interaction: discord.Interaction) -> None:
        async with answering(interaction):
            actor = interaction_actor(interaction, deps.rule)
            await say_privately(interaction, render_models(await engine.models(actor.workspace_id)))

    @app_commands.command(name="quota", description="Your credits, refill rate and next job")
    async def quota(interaction: discord.Interaction) -> None:
        async with answering(interaction):
            actor = interaction_actor(interaction, deps.rule)
            await say_privately(interaction, render_quota(await engine.quota(actor)))

    @app_commands.command(name="usage", description="What your jobs cost")
    @app_commands.describe(period="How far back (default 30 days)")
    @app_commands.choices(period=PERIODS)
    async def usage(interaction: discord.Interaction, period: int = 30) -> None:
        async with answering(interaction):
            actor = interaction_actor(interaction, deps.rule)
            await send_usage(interaction, await engine.usage(actor, days=period), by="model")

    @app_commands.command(name="jobs", description="Your recent jobs")
    async def jobs(interaction: discord.Interaction) -> None:
        async with answering(interaction):
            actor = interaction_actor(interaction, deps.rule)
            await say_privately(interaction, render_jobs(await engine.jobs(actor, limit=10)))

    @app_commands.command(name="cancel", description="Cancel one of your jobs")
    @app_commands.describe(job="The job's id (see /jobs)")
    async def cancel(interaction: discord.Interaction, job: app_commands.Range[str, 4, 64]) -> None:
        async with answering(interaction):
            actor = interaction_actor(interaction, deps.rule)
            found = await engine.cancel(Cancel(job), actor=actor)
            await say_privately(interaction, f"Cancelling job `{found.short_id}` ({found.model}).")

    @cancel.autocomplete("job")
    async def unfinished(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        actor = interaction_actor(interaction, deps.rule)
        mine = await engine.jobs(actor, limit=25)
        return [
            app_commands.Choice(name=f"{j.short_id} · {j.model} · {j.state.value}", value=j.id)
            for j in mine
            if not j.state.final and j.id.startswith(current.strip().lower())
        ]

    return [models, quota, usage, jobs, cancel]
