"""Core results → Slack messages: mrkdwn text and Block Kit blocks."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from adapters.slack import result_actions
from core.catalog import ModelSpec
from core.describe import render_suggestions
from core.errors import BotError
from core.jobs import Delivery, Job, JobKind, ProgressView, Stage
from core.markup import translate
from core.nsfw import flagged_output
from core.render import render_error

Block = dict[str, Any]
RESULT_ACTION = result_actions.RESULT_ACTION
# A describe's suggestion (`falbot_imagine_2`, 1-based): /imagine it (`adapters.slack.image_verbs`).
IMAGINE = result_actions.IMAGINE
IMAGINE_ACTION = re.compile(IMAGINE + r"_([1-9])")

EDIT_SHORTCUT = "edit_image"  # the message shortcut's callback id (manifest.yaml)
EDIT_MODAL = "falbot_edit_modal"  # the modal's callback id
PROMPT_BLOCK, PROMPT_INPUT = "prompt", "prompt_input"
MODEL_BLOCK, MODEL_INPUT = "model", "model_input"
UPLOAD_MODAL = "falbot_upload_modal"  # /edit and /upscale: an image uploaded in a modal
FILE_BLOCK, FILE_INPUT = "image", "image_input"
IMAGE_TYPES = ("png", "jpg", "jpeg", "webp", "gif")

_SECTION_MAX = 3000
_STAGE_ICONS = {
    Stage.QUEUED: ":hourglass_flowing_sand:",
    Stage.SUBMITTED: ":hourglass_flowing_sand:",
    Stage.RUNNING: ":art:",
    Stage.UPLOADING: ":outbox_tray:",
    Stage.DONE: ":white_check_mark:",
}


def escape(text: str) -> str:
    """Slack's three control characters, so user text never becomes a mention or a link.

    The one escape of the Slack side: every piece of text a user, an admin or fal wrote (a
    prompt, an option, an error about them) passes through it before it is put into a message,
    and every message's notification text is made by `plain` below, which passes through it.
    Only falbot's own markup (`<@user>` mentions, `<url|name>` links) is added after it.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Core's texts name the commands as Discord has them (`/quota`); on Slack they live under /falbot.
_GROUPED = re.compile(r"(?<![\w/])/(help|models|quota|usage|jobs|cancel|admin|settings)\b")


def commands(text: str) -> str:
    """`/quota` → `/falbot quota`, `/admin budget set` → `/falbot admin budget set`."""
    return _GROUPED.sub(r"/falbot \1", text)


def _date(unix: int, with_date: bool) -> str:
    """A clock time as Slack's date token: the reader's own time zone, UTC as the fallback."""
    when = datetime.fromtimestamp(unix, UTC)
    if with_date:
        return f"<!date^{unix}^{{date_short}} {{time}}|{when:%b %d %H:%M} UTC>"
    return f"<!date^{unix}^{{time}}|{when:%H:%M} UTC>"


def _tokens(escaped: str) -> str:
    """Core's people, roles and clock times (core.markup) → Slack's mentions (a role is a user
    group) and date tokens. Only core makes these tokens: a `<@U…>` in a prompt or in fal's
    words stays escaped text."""
    return translate(
        escaped,
        user=lambda user_id: f"<@{user_id}>",
        role=lambda group_id: f"<!subteam^{group_id}>",
        clock=_date,
    )


def plain(text: str) -> str:
    """A message's notification text (`text` beside its blocks): one line, escaped, without
    core's `**bold**` marks (notifications show no formatting)."""
    return _tokens(escape(commands(text.split("\n", 1)[0]).replace("**", "")[:150]))


def mrkdwn(text: str) -> str:
    """Core's markup → Slack mrkdwn, escaped: `**bold**` → `*bold*`, people as mentions, clock
    times as Slack's date token."""
    return _tokens(re.sub(r"\*\*(.+?)\*\*", r"*\1*", escape(commands(text))))


def _section(text: str) -> Block:
    if len(text) > _SECTION_MAX:
        text = text[: _SECTION_MAX - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:_SECTION_MAX]}]}


def _headline(user_id: str, prompt: str) -> str:
    who = f"<@{user_id}>" if user_id else "Someone"
    if not prompt:
        return f"{who} asked for"
    short = prompt if len(prompt) <= 300 else prompt[:299] + "…"
    return f"{who}: _{escape(short)}_"


def answer(text: str) -> tuple[str, list[Block]]:
    """A plain answer (account, admin, help) as a message: notification text and sections."""
    return plain(text), text_blocks(text)


def text_blocks(text: str) -> list[Block]:
    """A plain answer (account, admin, errors) as one or more sections."""
    chunks, current = [], ""
    for line in mrkdwn(text).split("\n"):
        if len(current) + len(line) + 1 > _SECTION_MAX and current:
            chunks.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    chunks.append(current or " ")
    return [_section(c) for c in chunks[:45]]


def starting(user_id: str, prompt: str, what: str) -> tuple[str, list[Block]]:
    """The message posted once a job is admitted; its ts is then stored in the job's reply_ref."""
    line = f":hourglass_flowing_sand: {escape(what)} · starting…"
    return line, [_section(_headline(user_id, prompt)), _context(line)]


def progress(
    view: ProgressView, *, user_id: str, prompt: str, model: str
) -> tuple[str, list[Block]]:
    icon = _STAGE_ICONS.get(view.stage, ":hourglass_flowing_sand:")
    name = view.model or model
    line = f"{icon} *{escape(name)}* · {escape(view.text())} · job `{view.job_id[:8]}`"
    return line, [_section(_headline(user_id, prompt)), _context(line)]


def result(
    delivery: Delivery,
    *,
    user_id: str,
    links: Sequence[tuple[str, str]],
    file_ids: Sequence[str],
    parent_url: str = "",
) -> tuple[str, list[Block]]:
    """The final message: what was asked, the footer (a child's names its parent, linked when
    Slack gave its permalink), links to files over the size cap, buttons."""
    job = delivery.job
    footer = escape(delivery.footer())
    if parent_url and job.parent_job_id:
        named = f"from job {job.parent_job_id[:8]}"
        footer = footer.replace(named, f"from <{escape(parent_url)}|job {job.parent_job_id[:8]}>")
    blocks = [_section(_headline(user_id, _prompt(job))), _context(f":white_check_mark: {footer}")]
    if delivery.result.texts:  # a describe's prompt suggestions
        blocks.append(_section(mrkdwn(render_suggestions(delivery.result.texts))))
    if links:
        listed = "\n".join(f"<{escape(url)}|{escape(name)}>" for name, url in links)
        blocks.append(_section(f"Not uploaded here (too big, or the upload failed):\n{listed}"))
    held = delivery.withheld + sum(1 for f in delivery.files if f.spoiler)
    if held:
        blocks.append(
            _context(f":no_entry: {held} output(s) withheld: fal flagged them as possibly NSFW.")
        )
    elif any(flagged_output(output_flag=f.output.nsfw, job=job) for f in delivery.files):
        blocks.append(_context(":warning: fal flagged an output as possibly NSFW."))
    blocks += result_actions.actions(delivery, file_ids)
    return plain(f"Done · {delivery.footer()}"), blocks


def failure(
    job: Job, error: BotError, *, credits_returned: bool, user_id: str
) -> tuple[str, list[Block]]:
    text = render_error(error, credits_returned=credits_returned, now=datetime.now(UTC))
    blocks = [
        _section(_headline(user_id, _prompt(job))),
        _section(f":x: {mrkdwn(text)}"),
        _context(f"*{escape(job.model)}* · job `{job.short_id}`"),
    ]
    return plain(f"Failed · {error.message}"), blocks


def error(err: BotError) -> tuple[str, list[Block]]:
    """A refusal or a mistake, for an ephemeral answer."""
    text = render_error(err, now=datetime.now(UTC))
    return plain(err.message), [_section(f":warning: {mrkdwn(text)}")]


def _prompt(job: Job) -> str:
    prompt = job.arguments.get("prompt")
    if job.kind is JobKind.DESCRIBE:
        return "describe this image"
    if job.kind is JobKind.UPSCALE or not prompt:
        return f"upscale ×{job.arguments.get('scale', 2)}" if job.kind is JobKind.UPSCALE else ""
    return str(prompt)


def edit_modal(
    models: Sequence[ModelSpec], *, default: str, metadata: dict[str, Any], prompt: str = ""
) -> dict[str, Any]:
    """The modal behind the **Edit image** shortcut and the **Edit** button: prompt and model."""
    options = [
        {
            "text": {"type": "plain_text", "text": spec.name[:75]},
            "description": {"type": "plain_text", "text": spec.price_text[:75]},
            "value": spec.name,
        }
        for spec in models[:100]
    ]
    select: dict[str, Any] = {
        "type": "static_select",
        "action_id": MODEL_INPUT,
        "options": options,
    }
    initial = next((o for o in options if o["value"] == default), None)
    if initial is not None:
        select["initial_option"] = initial
    prompt_input = _edit_prompt_input(prompt)
    return {
        "type": "modal",
        "callback_id": EDIT_MODAL,
        "private_metadata": json.dumps(metadata, separators=(",", ":")),
        "title": {"type": "plain_text", "text": "Edit image"},
        "submit": {"type": "plain_text", "text": "Edit"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": PROMPT_BLOCK,
                "label": {"type": "plain_text", "text": "Prompt"},
                "element": prompt_input,
            },
            {
                "type": "input",
                "block_id": MODEL_BLOCK,
                "label": {"type": "plain_text", "text": "Model"},
                "element": select,
            },
        ],
    }


def home(text: str) -> dict[str, Any]:
    """The App Home tab (views.publish): a header, then the help text."""
    return {
        "type": "home",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "falbot"}},
            *text_blocks(text),
        ],
    }


def upload_modal(
    *, kind: str, metadata: dict[str, Any], max_files: int, prompt: str = ""
) -> dict[str, Any]:
    """The modal of `/edit` (an image and what to change) and `/upscale` (an image), with
    Slack's `file_input` element: the submission carries the uploaded files."""
    blocks: list[Block] = [
        {
            "type": "input",
            "block_id": FILE_BLOCK,
            "label": {"type": "plain_text", "text": "Image" if max_files == 1 else "Images"},
            "element": {
                "type": "file_input",
                "action_id": FILE_INPUT,
                "filetypes": list(IMAGE_TYPES),
                "max_files": max(1, min(max_files, 10)),
            },
        }
    ]
    if kind == "edit":
        prompt_input = _edit_prompt_input(prompt)
        blocks.append(
            {
                "type": "input",
                "block_id": PROMPT_BLOCK,
                "label": {"type": "plain_text", "text": "Prompt"},
                "element": prompt_input,
            }
        )
    title = "Edit image" if kind == "edit" else "Upscale image"
    return {
        "type": "modal",
        "callback_id": UPLOAD_MODAL,
        "private_metadata": json.dumps(metadata, separators=(",", ":"))[:3000],
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Edit" if kind == "edit" else "Upscale"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def _edit_prompt_input(prompt: str) -> dict[str, Any]:
    """The edit modals' prompt box (the Edit image shortcut's and `/edit`'s)."""
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": PROMPT_INPUT,
        "multiline": True,
        "max_length": 2000,
        "placeholder": {"type": "plain_text", "text": "What should change?"},
    }
    if prompt:
        element["initial_value"] = prompt[:2000]
    return element
