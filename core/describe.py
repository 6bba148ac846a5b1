"""/describe: four prompt suggestions for an image, each with a button that imagines it.

One call to a vision LLM on fal (`openrouter/router/vision`) asks for exactly four prompts, one
a line; `suggestions` reads them back. They are the LLM's own four, not one caption reworded:
a reply with fewer lines shows fewer suggestions, never made-up ones."""

from __future__ import annotations

import re
from typing import Any

from core.commands import Generate
from core.errors import invalid
from core.jobs import Job, JobKind

SUGGESTIONS = 4
# The LLM fal routes to, and the most it may answer: four prompts of up to ~60 words each fit
# well inside, and the cap bounds what a description costs (`core.model_table`'s estimate).
VISION_MODEL = "google/gemini-2.5-flash"
MAX_TOKENS = 600
SYSTEM_PROMPT = (
    "You write prompts for text-to-image models. Answer with the prompts only: one a line,"
    " no numbering, no quotes, no markdown, nothing before or after."
)
INSTRUCTION = (
    f"Describe this image as {SUGGESTIONS} different prompts a text-to-image model could"
    " recreate it from. Each prompt is one line of 15 to 60 words: the subject, the setting,"
    " the style or medium, the lighting and the composition. Vary the emphasis between them."
)
_BULLET = re.compile(r"^\s*(?:[-*•]+|\d{1,2}\s*[.):-]|prompt\s*\d{1,2}\s*[:.-])\s*", re.IGNORECASE)
_MAX_SUGGESTION = 1000
_SHOWN = 400


def describe_arguments(image_urls: list[str]) -> dict[str, Any]:
    """fal's arguments for one description of the first image."""
    return {
        "image_urls": image_urls[:1],
        "prompt": INSTRUCTION,
        "system_prompt": SYSTEM_PROMPT,
        "model": VISION_MODEL,
        "max_tokens": MAX_TOKENS,
        "temperature": 1,
        "reasoning": False,
    }


def suggestions(text: str) -> tuple[str, ...]:
    """The LLM's answer read as prompts: one a line, numbering, bullets and quotes removed,
    blank lines skipped, at most four, each within a prompt's length."""
    found = []
    for line in text.splitlines():
        cleaned = _BULLET.sub("", line).strip().strip("\"'`*").strip()
        if len(cleaned.split()) >= 3:  # a heading ("Prompts:") is not a prompt
            found.append(cleaned[:_MAX_SUGGESTION])
        if len(found) == SUGGESTIONS:
            break
    return tuple(found)


def suggestion_command(job: Job, index: int | None) -> Generate:
    """/imagine of suggestion `index` (0-based) of a describe job: the person's own defaults
    (model, aspect, count) fill the rest at intake, as for any /imagine."""
    if job.kind is not JobKind.DESCRIBE or job.result is None:
        raise invalid("That result has no prompt suggestions.")
    texts = job.result.texts
    at = 0 if index is None else index
    if not 0 <= at < len(texts):
        raise invalid(f"That description has no suggestion {at + 1}.")
    return Generate(JobKind.IMAGE, "", {"prompt": texts[at]})


def render_suggestions(texts: tuple[str, ...]) -> str:
    """The suggestions as core markup, numbered as their buttons are."""
    if not texts:
        return "fal gave no prompt suggestions for this image."
    lines = [f"**{i}.** {_shown(text)}" for i, text in enumerate(texts, 1)]
    head = "Prompt suggestions (**Imagine** makes one, on your own /settings):"
    return "\n".join([head, *lines])


def _shown(text: str) -> str:
    """A suggestion as listed: four fit one chat message; its button imagines all of it."""
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
