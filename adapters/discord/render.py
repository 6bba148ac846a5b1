"""Core results as Discord message text: the core renderers, fitted to Discord's limits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from core.describe import render_suggestions
from core.errors import BotError
from core.jobs import Delivery, Job, ProgressView, Stage
from core.markup import OPTION, translate
from core.render import render_error

MAX_CONTENT = 2000
_PROMPT_SHOWN = 300
_STAGE_ICONS = {
    Stage.QUEUED: "⏳",
    Stage.SUBMITTED: "📨",
    Stage.RUNNING: "🎨",
    Stage.UPLOADING: "📤",
    Stage.DONE: "✅",
}


def fit(text: str, limit: int = MAX_CONTENT) -> str:
    """Cut `text` to Discord's content limit, saying so."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def markup(text: str) -> str:
    """Core's markup in Discord's words: people and roles as mentions, clock times as
    `<t:…>` (each reader's own time zone), options without dashes (as slash commands name
    them: `--count` reads `count`), and the details line (fal's request id) in small print."""
    text = translate(
        OPTION.sub(r"`\1`", text),
        user=lambda user_id: f"<@{user_id}>",
        role=lambda role_id: f"<@&{role_id}>",
        clock=lambda unix, with_date: f"<t:{unix}:{'f' if with_date else 't'}>",
    )
    return "\n".join(
        f"-# {line}" if line.startswith("Details: ") else line for line in text.split("\n")
    )


def quote(text: str, limit: int = _PROMPT_SHOWN) -> str:
    one_line = " ".join(text.split())
    shown = one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"
    return "> " + shown.replace("@", "@\u200b")


def progress(view: ProgressView, *, model: str) -> str:
    icon = _STAGE_ICONS.get(view.stage, "⏳")
    return fit(f"{icon} **{view.model or model}** · {view.text()}\n-# job {view.job_id[:8]}")


def delivery(
    result: Delivery,
    *,
    links: Sequence[str],
    mention: str | None = None,
    parent_url: str | None = None,
) -> str:
    lines = [mention] if mention else []
    prompt = result.job.arguments.get("prompt")
    if isinstance(prompt, str) and prompt:
        lines.append(quote(prompt))
    if result.result.texts:  # a describe's prompt suggestions
        lines.append(markup(render_suggestions(result.result.texts)))
    spoilered = {f.output.url for f in result.files if f.spoiler}
    lines += [f"||<{url}>||" if url in spoilered else f"<{url}>" for url in links]
    if result.withheld:
        lines.append(f"🔞 {result.withheld} output(s) withheld: fal flagged them as possibly NSFW.")
    parent = None
    if parent_url and result.job.parent_job_id:
        parent = f"[job {result.job.parent_job_id[:8]}](<{parent_url}>)"
    lines.append(f"-# {result.footer(parent=parent)}")
    return fit("\n".join(lines))


def failure(
    job: Job, error: BotError, *, credits_returned: bool, mention: str | None = None
) -> str:
    head = f"❌ **{job.model}** · job `{job.short_id}` {job.state.value}"
    body = render_error(error, credits_returned=credits_returned, now=datetime.now(UTC))
    return fit("\n".join([*([mention] if mention else []), head, markup(body)]))


def error(err: BotError) -> str:
    return fit(markup(render_error(err, now=datetime.now(UTC))))


def block(text: str) -> str:
    """A core rendering in Discord's words, within the content limit."""
    return fit(markup(text))
