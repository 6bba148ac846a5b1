"""/blend: two to five images made one by `kontext-blend`, with an optional prompt and aspect."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.commands import Generate
from core.jobs import JobKind

MIN_IMAGES = 2
MAX_IMAGES = 5
# Without a prompt of the person's own, the model is asked for what /blend promises.
BLEND_PROMPT = (
    "Blend these images into one coherent picture that keeps the main subject of each, in a"
    " single consistent style and light."
)


def blend_command(options: Mapping[str, Any], *, prompt: str | None) -> Generate:
    """A blend of images still to be attached (`Generate.with_images`); `options` as typed
    (`--model`, `--aspect`…), `prompt` the person's or None."""
    text = (prompt or "").strip() or BLEND_PROMPT
    return Generate.typed(JobKind.BLEND, options, prompt=text)
