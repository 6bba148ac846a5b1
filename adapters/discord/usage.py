"""Usage answers: the core text, with the shared chart (and for admins the CSV) attached."""

from __future__ import annotations

import asyncio
import contextlib
import io

import discord

from adapters.discord import render
from adapters.usage_chart import By, file_stem, usage_chart_png, usage_csv
from core.render import render_usage
from core.usage import UsageReport

_FETCHED = 8  # the chart's table shows eight people by name; the rest are counted


async def _names(interaction: discord.Interaction, report: UsageReport) -> dict[str, str]:
    """User ids → display names: those this client knows, else asked of Discord (a chart cannot
    mention, and without the members intent few members are cached)."""
    names = {}
    guild = interaction.guild
    for rank, user_id in enumerate(report.by("user_id")):
        if not user_id.isdigit():
            continue
        user: discord.abc.User | None = guild.get_member(int(user_id)) if guild else None
        user = user or interaction.client.get_user(int(user_id))
        if user is None and guild is not None and rank < _FETCHED:
            with contextlib.suppress(discord.HTTPException):
                user = await guild.fetch_member(int(user_id))
        if user is not None:
            names[user_id] = user.display_name
    return names


async def send_usage(
    interaction: discord.Interaction, report: UsageReport, *, by: By, csv: bool = False
) -> None:
    """The report privately; a chart of spend per day when there was any."""
    files = []
    if report.entries:
        labels = await _names(interaction, report) if by == "user_id" else None
        guild = interaction.guild.name if interaction.guild else None
        png = await asyncio.to_thread(
            usage_chart_png, report, by=by, labels=labels, workspace=guild
        )
        files.append(discord.File(io.BytesIO(png), filename=f"{file_stem(report)}.png"))
        if csv:
            data = usage_csv(report).encode()
            files.append(discord.File(io.BytesIO(data), filename=f"{file_stem(report)}.csv"))
    await interaction.response.send_message(
        render.block(render_usage(report)), files=files, ephemeral=True
    )
