"""Reply-to-edit: a message that mentions the bot and replies to a message with an image (or has
one attached) starts an edit with the message's text as the prompt; `upscale` alone upscales.

Without the message-content intent Discord hides other people's attachments from the bot, so a
reply to someone else's image arrives without it: the bot then points at **Edit image**.
"""

from __future__ import annotations

import logging
import re

import discord

from adapters.discord import render
from adapters.discord.deps import Deps
from adapters.discord.identity import dm_context, message_actor
from adapters.discord.interactions import nsfw_channel_of
from adapters.discord.media import check_attachments, fetch_images, images_of
from adapters.discord.quotes import quote_text, quote_view
from adapters.discord.refs import DEFAULT_SIZE_LIMIT, ReplyRef
from adapters.discord.reply import DiscordReply
from core.commands import Generate, asks_upscale
from core.confirmations import QuoteFirst
from core.errors import BotError, internal_error, invalid, not_allowed
from core.jobs import Channel, JobKind
from core.privacy import private_for

log = logging.getLogger(__name__)

HIDDEN_IMAGE_HINT = (
    "I can't see the image in the message you replied to: this bot runs without Discord's "
    "message-content intent, so Discord hides other people's attachments from it."
)
USE_MENU = (
    "Open that message's menu (right-click, or long-press on mobile) → Apps → **Edit image**."
)


def addressed_to_me(message: discord.Message, me: discord.abc.User) -> bool:
    if message.author.bot or message.author.id == me.id:
        return False
    return message.guild is None or any(m.id == me.id for m in message.mentions)


def prompt_of(message: discord.Message, me: discord.abc.User) -> str:
    return re.sub(rf"<@!?{me.id}>", " ", message.content).strip()


async def parent_of(message: discord.Message) -> discord.Message | None:
    """The message replied to, from the gateway payload or else fetched."""
    ref = message.reference
    if ref is None or ref.message_id is None:
        return None
    if isinstance(ref.resolved, discord.Message):
        return ref.resolved
    if isinstance(ref.resolved, discord.DeletedReferencedMessage):
        return None
    try:
        return await message.channel.fetch_message(ref.message_id)
    except discord.HTTPException:
        return None


def _images_to_use(
    deps: Deps,
    message: discord.Message,
    parent: discord.Message | None,
    me: discord.abc.User,
) -> list[discord.Attachment]:
    own = images_of(message)
    if own:
        return own
    if parent is None:
        raise invalid(
            "Reply to a message with an image, or attach one, and mention me with what to change.",
            "To make a new image, use /imagine.",
        )
    found = images_of(parent)
    if found:
        return found
    hidden = (
        not deps.message_content
        and parent.author.id != me.id
        and not parent.content
        and not parent.attachments
    )
    if hidden:
        raise invalid(HIDDEN_IMAGE_HINT, USE_MENU)
    raise invalid("The message you replied to has no image I can edit.", USE_MENU)


async def on_mention(deps: Deps, client: discord.Client, message: discord.Message) -> None:
    """Start an edit (or upscale) from a mention; every refusal is a reply to the mention."""
    me = client.user
    if me is None or not addressed_to_me(message, me):
        return
    placeholder: discord.Message | None = None
    try:
        # A DM is what FALBOT_DISCORD_DMS says (or refused) before anything else happens.
        dm = None
        if message.guild is None:
            dm = await dm_context(client, deps.dms, message.author, deps.rule)
        actor = message_actor(message, deps.rule, dm=dm)
        prompt = prompt_of(message, me)
        images = _images_to_use(deps, message, await parent_of(message), me)
        if not prompt:
            raise invalid(
                "Tell me what to change, after the mention.", "Like: @falbot make it night"
            )
        command = (
            Generate(JobKind.UPSCALE)
            if asks_upscale(prompt)
            else Generate(JobKind.EDIT, "", {"prompt": prompt})
        )
        private = await private_for(deps.engine.store, actor, command)
        if private:
            # Private mode: from here on, everything falbot says goes to a DM.
            placeholder = await _private_placeholder(client, message.author)
        spec = deps.models.for_kind(command.kind)
        images = images[: max(1, spec.max_input_images)]
        await deps.engine.precheck(command, actor=actor, images=len(images))
        check_attachments(images, max_bytes=deps.max_input_bytes)
        channel = Channel(nsfw=nsfw_channel_of(message.channel), spoilers=True)
        flagged = await deps.engine.screen_files(
            actor.workspace_id, [a.filename for a in images], channel=channel
        )
        if placeholder is None:
            placeholder = await message.reply("⏳ On it…", mention_author=False)
        ref = ReplyRef(
            channel_id=placeholder.channel.id,
            user_id=message.author.id,
            guild_id=None if private or message.guild is None else message.guild.id,
            size_limit=message.guild.filesize_limit if message.guild else DEFAULT_SIZE_LIMIT,
            message_id=placeholder.id,
            reply_to=None if private else message.id,
            private=private,
        )
        reply = DiscordReply(client=client, ref=ref, clock=deps.clock, tokens=deps.tokens)
        reply.open_gate()
        command = command.with_images(await fetch_images(deps.fetcher, images), flagged=flagged)
        try:
            await deps.engine.submit(command, reply, actor=actor, channel=channel)
        except QuoteFirst as first:
            # The quote where the job would have shown, with its buttons (its requester's).
            quote = first.quote
            await placeholder.edit(content=quote_text(quote), view=quote_view(quote))
    except BotError as error:
        await _refuse(message, placeholder, error)
    except Exception:
        log.exception("mention %s failed", message.id)
        await _refuse(message, placeholder, internal_error())


async def _private_placeholder(client: discord.Client, user: discord.abc.User) -> discord.Message:
    try:
        return await (await client.create_dm(user)).send("⏳ On it…")
    except discord.HTTPException as exc:
        log.info("could not DM the requester of a private job: HTTP %s", exc.status)
        raise not_allowed(
            "I could not send you a direct message, so I did not start this private job.",
            "Allow direct messages from this server's members, or turn private mode off in"
            " /settings.",
        ) from None


async def _refuse(
    message: discord.Message, placeholder: discord.Message | None, error: BotError
) -> None:
    text = render.error(error)
    try:
        if placeholder is not None:
            await placeholder.edit(content=text)
        else:
            await message.reply(text, mention_author=False)
    except discord.HTTPException as exc:
        log.warning("could not answer mention %s: HTTP %s", message.id, exc.status)
