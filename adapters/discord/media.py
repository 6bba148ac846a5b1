"""Images users give: Discord attachments checked by what Discord says of them, then fetched
from Discord's CDN and validated from their bytes."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from adapters.media_fetch import MediaFetcher
from core.errors import BotError, invalid
from core.jobs import InputImage

_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif")
_HINT = "Attach a PNG, JPEG, WebP or GIF image."


def is_image(attachment: discord.Attachment) -> bool:
    ctype = (attachment.content_type or "").split(";")[0].strip().lower()
    if ctype:
        return ctype.startswith("image/")
    return attachment.filename.lower().endswith(_IMAGE_EXTENSIONS)


def images_of(message: discord.Message) -> list[discord.Attachment]:
    return [a for a in message.attachments if is_image(a)]


def check_attachments(
    attachments: Sequence[discord.Attachment], *, max_bytes: int, max_images: int | None = None
) -> None:
    """Refuse before any download what Discord already tells us is not a usable image."""
    if not attachments:
        raise invalid("I found no image to work on.", _HINT)
    for attachment in attachments:
        name = discord.utils.escape_markdown(attachment.filename[:80])
        if not is_image(attachment):
            raise invalid(f"`{name}` is not an image.", _HINT)
        if attachment.size > max_bytes:
            raise invalid(
                f"`{name}` is {attachment.size / 1_048_576:.1f} MiB; the limit is "
                f"{max_bytes / 1_048_576:.0f} MiB.",
                "Send a smaller image.",
            )
    if max_images is not None and len(attachments) > max_images:
        raise invalid(
            f"I can use at most {max_images} image(s) here; you gave {len(attachments)}.",
            "Use fewer images.",
        )


async def fetch_images(
    fetcher: MediaFetcher, attachments: Sequence[discord.Attachment]
) -> tuple[InputImage, ...]:
    """Download and validate each attachment (only from Discord's own hosts), their pixels
    counted together against the request's cap."""
    images = []
    budget = fetcher.request_budget()
    for attachment in attachments:
        try:
            images.append(await fetcher.fetch_image(attachment.url, budget=budget))
        except BotError as exc:
            name = discord.utils.escape_markdown(attachment.filename[:80])
            raise BotError(
                exc.code, f"`{name}`: {exc.message}", hint=exc.hint, retry_after=exc.retry_after
            ) from exc
    return tuple(images)
