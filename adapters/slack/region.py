"""The Edit region button: a private link to the region painter's page (`core.painting`),
answered ephemerally to whoever pressed it. The result comes back in the result's thread."""

from __future__ import annotations

from typing import Any

from adapters.slack.context import Origin
from adapters.slack.deps import Deps
from adapters.slack.reply import ReplyRef
from adapters.slack.submit import SLACK_CHANNEL
from core.errors import not_allowed
from core.jobs import Actor
from core.painting import link_text


async def edit_region(
    deps: Deps,
    origin: Origin,
    actor: Actor,
    body: dict[str, Any],
    *,
    job_id: str,
    image: int | None,
    thread_ts: str,
) -> None:
    """Answer the button with the link; core refuses what the job would refuse."""
    if deps.painter is None:
        raise not_allowed("Edit region is not available here.")
    reply_ref = ReplyRef(
        channel=origin.channel_id, thread_ts=thread_ts, message_ts="", user_id=origin.user_id
    )
    link = await deps.painter.issue(
        actor=actor,
        channel=SLACK_CHANNEL,
        job_id=job_id,
        image=image,
        place=place_of(body),
        reply_ref=reply_ref.to_dict(),
    )
    await deps.answers.text(origin, link_text(link, image=image, now=deps.painter.now()))


def place_of(body: dict[str, Any]) -> str:
    """The conversation's name as people see it, for the page ("posted in #general")."""
    channel = body.get("channel") or {}
    name = str(channel.get("name") or "")
    if not name or name == "directmessage" or str(channel.get("id", "")).startswith("D"):
        return "your DMs with falbot" if name == "directmessage" else "the channel's thread"
    return f"#{name}"
