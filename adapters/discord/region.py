"""The Edit region button: a private link to the region painter's page (`core.painting`),
answered only to whoever pressed it. The result comes back as a new message replying to the
result it repaints."""

from __future__ import annotations

import discord

from adapters.discord import render
from adapters.discord.deps import Deps
from adapters.discord.identity import interaction_actor
from adapters.discord.interactions import channel_of
from adapters.discord.refs import DEFAULT_SIZE_LIMIT, ReplyRef
from core.errors import not_allowed
from core.painting import link_text


async def edit_region(
    deps: Deps, interaction: discord.Interaction, job_id: str, image: int | None
) -> None:
    """Answer the button with the link, ephemeral; core refuses what the job would refuse."""
    if deps.painter is None:
        raise not_allowed("Edit region is not available here.")
    message = interaction.message
    reply_ref = ReplyRef(
        channel_id=interaction.channel_id or 0,
        user_id=interaction.user.id,
        guild_id=interaction.guild_id,
        size_limit=interaction.filesize_limit or DEFAULT_SIZE_LIMIT,
        reply_to=message.id if message is not None else None,
    )
    link = await deps.painter.issue(
        actor=interaction_actor(interaction, deps.rule),
        channel=channel_of(interaction),
        job_id=job_id,
        image=image,
        place=place_of(interaction),
        reply_ref=reply_ref.to_dict(),
    )
    text = link_text(link, image=image, now=deps.painter.now())
    # No link preview: Discord's crawler has no business opening someone's private page.
    await interaction.response.send_message(
        render.markup(text), ephemeral=True, suppress_embeds=True
    )


def place_of(interaction: discord.Interaction) -> str:
    """The channel's name as people see it, for the page ("posted in #general")."""
    name = getattr(interaction.channel, "name", None)
    if interaction.guild_id is None:
        return "your DMs with falbot"
    return f"#{name}" if name else "the channel"
