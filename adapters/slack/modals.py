"""`/edit` and `/upscale`: slash commands cannot carry a file, so each opens a modal with
Slack's `file_input` element; its submission carries the uploaded files, which become the job's
input images (fetched with the bot token like any private Slack file)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.slack import render
from adapters.slack.context import Origin
from adapters.slack.deps import Deps
from adapters.slack.mentions import EDIT_OPTIONS, UPSCALE_OPTIONS
from adapters.slack.options import parse
from adapters.slack.shortcuts import modal_metadata, screen_files
from adapters.text_commands.grammar import usage_error
from adapters.text_commands.verbs import EDIT, UPSCALE
from core.commands import Generate
from core.errors import invalid
from core.jobs import JobKind

EDIT_USAGE = EDIT.usage()
UPSCALE_USAGE = UPSCALE.usage()


async def edit_command(deps: Deps, origin: Origin, text: str) -> None:
    parsed = parse(text, allowed=EDIT_OPTIONS, usage=EDIT_USAGE)
    await _open(deps, origin, kind=JobKind.EDIT, options=parsed.options, prompt=parsed.prompt)


async def upscale_command(deps: Deps, origin: Origin, text: str) -> None:
    parsed = parse(text, allowed=UPSCALE_OPTIONS, usage=UPSCALE_USAGE)
    if parsed.words:
        raise usage_error("`/upscale` takes only `--scale`.", UPSCALE_USAGE)
    await _open(deps, origin, kind=JobKind.UPSCALE, options=parsed.options, prompt="")


async def _open(
    deps: Deps, origin: Origin, *, kind: JobKind, options: Mapping[str, Any], prompt: str
) -> None:
    spec = deps.models.for_kind(kind, str(options.get("model", "")))  # fails early
    if not origin.trigger_id:
        raise invalid("Slack did not let me open a form here.", "Try the command again.")
    metadata = {"k": kind.value, "c": origin.channel_id, "o": dict(options)}
    view = render.upload_modal(
        kind=kind.value, metadata=metadata, max_files=spec.max_input_images, prompt=prompt
    )
    await deps.client.views_open(trigger_id=origin.trigger_id, view=view)


async def on_upload_submitted(deps: Deps, origin: Origin, view: dict[str, Any]) -> None:
    """The modal's files (and prompt) → an edit or upscale job in the command's channel."""
    values = (view.get("state") or {}).get("values") or {}
    uploaded = (values.get(render.FILE_BLOCK, {}).get(render.FILE_INPUT) or {}).get("files")
    prompt = str(
        (values.get(render.PROMPT_BLOCK, {}).get(render.PROMPT_INPUT) or {}).get("value") or ""
    ).strip()
    meta = modal_metadata(view)
    kind = JobKind.UPSCALE if meta.get("k") == "upscale" else JobKind.EDIT
    stored = meta.get("o")
    options: dict[str, Any] = stored if isinstance(stored, dict) else {}
    if kind is JobKind.EDIT and not prompt:
        raise usage_error("Tell me what to change.", EDIT_USAGE)
    command = Generate.typed(kind, options, prompt=prompt if kind is JobKind.EDIT else None)
    actor = await deps.identities.actor(origin)
    spec = await deps.engine.precheck(command, actor=actor)
    files = deps.files.images(await deps.files.described(list(uploaded or [])))
    flagged = await screen_files(deps, origin, files[: max(1, spec.max_input_images)])
    images = await deps.files.fetch(files, limit=spec.max_input_images)
    await deps.starter.start(
        actor=actor,
        channel=origin.channel_id,
        thread_ts=None,
        prompt=prompt,
        what=command.model or kind.value,
        command=command.with_images(images, flagged=flagged),
    )
