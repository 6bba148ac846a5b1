"""`@falbot make it blue` in a thread with an image: an edit; `@falbot upscale`: an upscale."""

from __future__ import annotations

import re
from typing import Any

from adapters.slack.context import Origin
from adapters.slack.deps import Deps
from adapters.slack.help import show_help
from adapters.slack.options import parse
from adapters.slack.shortcuts import screen_files
from adapters.text_commands.grammar import usage_error
from adapters.text_commands.verbs import EDIT, UPSCALE
from core.commands import Generate, asks_upscale
from core.jobs import JobKind

MENTION_USAGE = (
    "mention me in a thread with an image: "
    + EDIT.usage(prefix="@falbot ", args="<what to change>", named=False)
    + ", or "
    + UPSCALE.usage(prefix="@falbot ")
)
EDIT_OPTIONS = frozenset(EDIT.options)
UPSCALE_OPTIONS = frozenset(UPSCALE.options)
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def mention_text(text: str, bot_user_id: str | None) -> str:
    """The mention's text without the bot's own mention (or, unknown, a leading one)."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    else:
        text = _MENTION.sub(" ", text, count=1)
    return " ".join(text.split())


async def on_mention(
    deps: Deps, origin: Origin, event: dict[str, Any], bot_user_id: str | None
) -> None:
    text = mention_text(str(event.get("text", "")), bot_user_id)
    first = text.split(maxsplit=1)[0].lower() if text else ""
    if first == "help" or (not text and not event.get("files")):
        await show_help(deps, origin)
        return
    upscale = asks_upscale(text)
    if upscale:
        options = "--" + text.split("--", 1)[1] if "--" in text else ""
        parsed = parse(options, allowed=UPSCALE_OPTIONS, usage=MENTION_USAGE)
        command = Generate.typed(JobKind.UPSCALE, parsed.options, prompt=None)
    else:
        parsed = parse(text, allowed=EDIT_OPTIONS, usage=MENTION_USAGE)
        if not parsed.prompt:
            raise usage_error("Tell me what to change.", MENTION_USAGE)
        command = Generate.typed(JobKind.EDIT, parsed.options, prompt=parsed.prompt)
    actor = await deps.identities.actor(origin)
    # An unknown model, or a refusal that needs no image, comes before any download.
    spec = await deps.engine.precheck(command, actor=actor)

    ts = str(event.get("ts", ""))
    thread_ts = event.get("thread_ts")
    files = deps.files.images(event.get("files") or [])
    if not files and thread_ts:
        files = await deps.files.in_thread(origin.channel_id, str(thread_ts), before=ts)
    flagged = await screen_files(deps, origin, files[: max(1, spec.max_input_images)])
    images = await deps.files.fetch(files, limit=spec.max_input_images)
    await deps.starter.start(
        actor=actor,
        channel=origin.channel_id,
        thread_ts=str(thread_ts or ts),
        prompt=parsed.prompt if not upscale else "",
        what=command.model or command.kind.value,
        command=command.with_images(images, flagged=flagged),
    )


async def on_direct_message(
    deps: Deps, origin: Origin, event: dict[str, Any], bot_user_id: str | None
) -> None:
    """A DM to falbot: with an image (or in a thread with one), an edit or upscale as a mention
    would make; anything else is answered with the help."""
    if not event.get("files") and not event.get("thread_ts"):
        await show_help(deps, origin)
        return
    await on_mention(deps, origin, event, bot_user_id)
