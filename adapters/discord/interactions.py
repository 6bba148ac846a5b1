"""What every interaction handler shares: answering within Discord's 3 s, turning a `BotError`
into an ephemeral answer, and starting a job whose reply is the interaction's message."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import discord

from adapters.discord import render
from adapters.discord.deps import Deps
from adapters.discord.identity import DM_KEY, dm_context, interaction_actor
from adapters.discord.media import check_attachments, fetch_images
from adapters.discord.quotes import show_quote
from adapters.discord.refs import ReplyRef
from adapters.discord.reply import DiscordReply
from core.commands import Command, FollowUp, Generate
from core.confirmations import PriceQuote, QuoteFirst
from core.errors import BotError, internal_error
from core.jobs import Channel, Job
from core.privacy import private_for

log = logging.getLogger(__name__)


async def send_error(interaction: discord.Interaction, error: BotError) -> None:
    """The one place a `BotError` becomes a Discord answer: ephemeral, whatever the
    interaction's state (unanswered, deferred with a public placeholder, or answered)."""
    text = render.error(error)
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(text, ephemeral=True)
            return
        if interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
            # The public "thinking…" placeholder would otherwise stay: replace it privately.
            try:
                await interaction.delete_original_response()
            except discord.HTTPException:
                log.debug("could not delete the placeholder of interaction %s", interaction.id)
        await interaction.followup.send(text, ephemeral=True)
    except discord.HTTPException as exc:
        log.warning(
            "could not tell the user about %s: HTTP %s (code %s)", error.code, exc.status, exc.code
        )


async def admit_dm(deps: Deps, interaction: discord.Interaction) -> bool:
    """Before any handler: resolve what a DM counts as (`FALBOT_DISCORD_DMS`), or answer the
    refusal and stop. A guild interaction passes untouched."""
    if interaction.guild_id is not None or DM_KEY in interaction.extras:
        return True
    if interaction.type is discord.InteractionType.autocomplete:
        return True  # it only lists model names; the command itself is checked when sent
    try:
        context = await dm_context(interaction.client, deps.dms, interaction.user, deps.rule)
    except BotError as error:
        await send_error(interaction, error)
        return False
    interaction.extras[DM_KEY] = context
    return True


@asynccontextmanager
async def answering(interaction: discord.Interaction) -> AsyncIterator[None]:
    """Run a handler; any `BotError` (or crash) is answered, never shown raw."""
    try:
        yield
    except BotError as error:
        await send_error(interaction, error)
    except Exception:
        log.exception("interaction %s failed", interaction.id)
        await send_error(interaction, internal_error())


async def start_job(
    deps: Deps,
    interaction: discord.Interaction,
    command: Command,
    *,
    attachments: Sequence[discord.Attachment] = (),
    confirming: PriceQuote | None = None,
) -> Job | None:
    """Admit a job whose progress and result edit this interaction's original response (an
    ephemeral one in private mode); or, above the workspace's price threshold, answer with its
    quote (None). `confirming`: the quote whose Confirm this is (`command` is its command).

    Without images, admission (milliseconds) comes first, so a refusal is the interaction's
    first, ephemeral answer. With images, the download may outlast Discord's 3 s: defer first.
    """
    actor = interaction_actor(interaction, deps.rule)
    private = (
        confirming.private
        if confirming is not None
        else await private_for(deps.engine.store, actor, command)
    )
    # A follow-up's parent is the message its button is under; a Confirm's, the one its
    # quote kept (the Confirm itself is pressed on the quote).
    place = {"parent_message_id": interaction.message.id} if interaction.message else {}
    parent = (confirming.place if confirming is not None else place).get("parent_message_id")
    reply = DiscordReply(
        client=interaction.client,
        ref=ReplyRef.of_interaction(
            interaction,
            private=private,
            parent_message_id=int(parent) if parent and isinstance(command, FollowUp) else None,
        ),
        clock=deps.clock,
        tokens=deps.tokens,
    )
    channel = channel_of(interaction)
    if attachments and isinstance(command, Generate):
        # Refusals that need no image come before any download.
        await deps.engine.precheck(command, actor=actor, images=len(attachments))
        check_attachments(attachments, max_bytes=deps.max_input_bytes)
        # A falbot result fal flagged (its file name says which) stays flagged when reused.
        flagged = await deps.engine.screen_files(
            actor.workspace_id, [a.filename for a in attachments], channel=channel
        )
        await interaction.response.defer(thinking=True, ephemeral=private)
        images = await fetch_images(deps.fetcher, attachments)
        command = command.with_images(images, flagged=flagged)
    try:
        if confirming is not None:
            job = await deps.engine.confirm(confirming.id, reply, actor=actor)
        else:
            job = await deps.engine.submit(
                command, reply, actor=actor, channel=channel, place=place
            )
    except QuoteFirst as first:
        await show_quote(interaction, first.quote)
        return None
    try:
        if not interaction.response.is_done():
            await interaction.response.defer(thinking=True, ephemeral=private)
    except discord.HTTPException as exc:
        # The job runs regardless; its reply moves to a channel message if this token is gone.
        log.warning(
            "could not answer interaction %s for job %s: %s", interaction.id, job.short_id, exc
        )
    finally:
        reply.open_gate()
    return job


def nsfw_channel_of(channel: object) -> bool:
    """Whether Discord marks the channel age-restricted (threads follow their parent)."""
    is_nsfw = getattr(channel, "is_nsfw", None)
    return bool(is_nsfw()) if callable(is_nsfw) else False


def channel_of(interaction: discord.Interaction) -> Channel:
    """What core needs to know of the interaction's channel (Discord has spoilers)."""
    return Channel(nsfw=nsfw_channel_of(interaction.channel), spoilers=True)
