"""`/describe` and `/blend`: slash commands cannot carry files, so each opens a modal with
Slack's `file_input` (one image to describe; two to five to blend, with an optional prompt).
The submission's files become the job's input images, as `/edit`'s do. A describe's result
has an Imagine button per suggestion."""

from __future__ import annotations

import json
from typing import Any

from adapters.slack.context import Origin
from adapters.slack.deps import Deps
from adapters.slack.options import parse
from adapters.slack.render import FILE_BLOCK, FILE_INPUT, IMAGE_TYPES, IMAGINE_ACTION
from adapters.slack.shortcuts import modal_metadata, screen_files
from adapters.text_commands.grammar import usage_error
from adapters.text_commands.verbs import BLEND, DESCRIBE
from core.blend import MAX_IMAGES, MIN_IMAGES, blend_command
from core.commands import FollowUp, Generate
from core.errors import invalid
from core.jobs import JobKind
from core.model_inputs import MAX_PROMPT

IMAGE_VERB_MODAL = "falbot_image_verb_modal"
_PROMPT_BLOCK, _PROMPT_INPUT = "blend_prompt", "blend_prompt_input"
BLEND_USAGE = BLEND.usage()
DESCRIBE_USAGE = DESCRIBE.usage()
# Slack's file input takes up to 10 files: a blend of more than five is refused with a clear
# reason rather than cut short without one.
_SLACK_MAX_FILES = 10


async def describe_command(deps: Deps, origin: Origin, text: str) -> None:
    if text.strip():
        raise usage_error(
            "`/describe` takes no words: upload the image in the form.", DESCRIBE_USAGE
        )
    await _open(deps, origin, kind=JobKind.DESCRIBE, options={}, prompt="")


async def blend_command_(deps: Deps, origin: Origin, text: str) -> None:
    parsed = parse(text, allowed=frozenset(BLEND.options), usage=BLEND_USAGE)
    await _open(
        deps, origin, kind=JobKind.BLEND, options=dict(parsed.options), prompt=parsed.prompt
    )


async def _open(
    deps: Deps, origin: Origin, *, kind: JobKind, options: dict[str, Any], prompt: str
) -> None:
    deps.models.for_kind(kind, str(options.get("model", "")))  # a wrong model fails early
    if not origin.trigger_id:
        raise invalid("Slack did not let me open a form here.", "Try the command again.")
    metadata = {"k": kind.value, "c": origin.channel_id, "o": options}
    await deps.client.views_open(trigger_id=origin.trigger_id, view=_modal(kind, metadata, prompt))


def _modal(kind: JobKind, metadata: dict[str, Any], prompt: str) -> dict[str, Any]:
    blend = kind is JobKind.BLEND
    label = f"Images ({MIN_IMAGES} to {MAX_IMAGES})" if blend else "Image"
    blocks: list[dict[str, Any]] = [
        {
            "type": "input",
            "block_id": FILE_BLOCK,
            "label": {"type": "plain_text", "text": label},
            "element": {
                "type": "file_input",
                "action_id": FILE_INPUT,
                "filetypes": list(IMAGE_TYPES),
                "max_files": _SLACK_MAX_FILES if blend else 1,
            },
        }
    ]
    if blend:
        element: dict[str, Any] = {
            "type": "plain_text_input",
            "action_id": _PROMPT_INPUT,
            "multiline": True,
            "max_length": MAX_PROMPT,
            "placeholder": {"type": "plain_text", "text": "How to blend them (optional)"},
        }
        if prompt:
            element["initial_value"] = prompt[:MAX_PROMPT]
        blocks.append(
            {
                "type": "input",
                "block_id": _PROMPT_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Prompt"},
                "element": element,
            }
        )
    return {
        "type": "modal",
        "callback_id": IMAGE_VERB_MODAL,
        "private_metadata": json.dumps(metadata, separators=(",", ":"))[:3000],
        "title": {"type": "plain_text", "text": "Blend images" if blend else "Describe an image"},
        "submit": {"type": "plain_text", "text": "Blend" if blend else "Describe"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


async def on_image_verb_submitted(deps: Deps, origin: Origin, view: dict[str, Any]) -> None:
    """The modal's files (and a blend's prompt) → a describe or blend job in the channel."""
    values = (view.get("state") or {}).get("values") or {}
    uploaded = list((values.get(FILE_BLOCK, {}).get(FILE_INPUT) or {}).get("files") or [])
    prompt = str((values.get(_PROMPT_BLOCK, {}).get(_PROMPT_INPUT) or {}).get("value") or "")
    meta = modal_metadata(view)
    stored = meta.get("o")
    options: dict[str, Any] = stored if isinstance(stored, dict) else {}
    if meta.get("k") == JobKind.BLEND.value:
        command = blend_command(options, prompt=prompt)
        what = "blend"
    else:
        command, what = Generate(JobKind.DESCRIBE), "describe"
    actor = await deps.identities.actor(origin)
    files = deps.files.images(await deps.files.described(uploaded))
    # Refused (a count out of range, a ban, a denied model, no credits) before any download.
    spec = await deps.engine.precheck(command, actor=actor, images=max(1, len(files)))
    flagged = await screen_files(deps, origin, files)
    images = await deps.files.fetch(files, limit=spec.max_input_images)
    await deps.starter.start(
        actor=actor,
        channel=origin.channel_id,
        thread_ts=None,
        prompt=prompt.strip() if what == "blend" else "",
        what=what,
        command=command.with_images(images, flagged=flagged),
    )


async def on_suggestion_button(deps: Deps, origin: Origin, body: dict[str, Any]) -> None:
    """An Imagine button under a describe: /imagine of that suggestion, a new job of the
    presser on their own defaults (core checks the describe is theirs, or they are an admin)."""
    action = (body.get("actions") or [{}])[0]
    match = IMAGINE_ACTION.fullmatch(str(action.get("action_id", "")))
    if match is None:
        return
    index = int(match[1]) - 1
    message = body.get("message") or {}
    message_ts = str(message.get("ts") or (body.get("container") or {}).get("message_ts") or "")
    actor = await deps.identities.actor(origin)
    job = await deps.engine.own_job(actor, str(action.get("value", "")), doing="imagine")
    texts = job.result.texts if job.result else ()
    await deps.starter.start(
        actor=actor,
        channel=origin.channel_id,
        thread_ts=str(message.get("thread_ts") or message_ts) or None,
        prompt=texts[index] if index < len(texts) else "",
        what=f"suggestion {index + 1} of {job.short_id}",
        command=FollowUp(job.id, "imagine", image_index=index),
    )
