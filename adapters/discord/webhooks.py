"""Editing an interaction's original response from its saved token alone.

discord.py offers `PATCH /webhooks/{application}/{token}/messages/@original` only on a live
`Interaction`; a job's reply must also work after a restart, from the token saved with the job.
So this calls the same webhook adapter `Interaction.edit_original_response` uses (and with it
discord.py's own 429 handling).
"""

from __future__ import annotations

from collections.abc import Sequence

import discord
from discord.http import handle_message_parameters
from discord.utils import MISSING
from discord.webhook.async_ import async_context

NO_MENTIONS = discord.AllowedMentions.none()


async def edit_original(
    client: discord.Client,
    *,
    application_id: int,
    token: str,
    content: str,
    files: Sequence[discord.File] = (),
    view: discord.ui.View | None = None,
) -> None:
    webhook = discord.Webhook.partial(application_id, token, client=client)
    with handle_message_parameters(
        content=content,
        attachments=list(files) if files else MISSING,
        view=view if view is not None else MISSING,
        allowed_mentions=NO_MENTIONS,
    ) as params:
        await async_context.get().edit_original_interaction_response(
            application_id,
            token,
            session=webhook.session,
            proxy=webhook.proxy,
            proxy_auth=webhook.proxy_auth,
            payload=params.payload,
            multipart=params.multipart,
            files=params.files,
        )
