"""Commands: what a person asks of falbot, typed, as every adapter hands it to core.

An adapter only translates (a slash command, a button, a mention, a console line) into one of
these and hands it to the engine with who asks (`Actor`), where it is answered (`Channel`) and
the `Reply` that shows it. Core decides the rest once: the model a kind defaults to, whether a
job is the caller's, which image a follow-up works on and the NSFW rules."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from core.jobs import Channel, InputImage, JobKind

__all__ = ["Cancel", "Channel", "Command", "FollowUp", "Generate", "asks_upscale"]


@dataclass(frozen=True)
class Generate:
    """Make something new: an image, an edit or upscale of `images`, a video.

    `model` is the model's short name, or "" for the kind's default; `options` are the
    person's own (`aspect_ratio`, `num_images`, `seed`…), checked against the model's schema.
    `flagged_input`: the images reuse a falbot result fal flagged (`Engine.screen_files`)."""

    kind: JobKind
    model: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    images: tuple[InputImage, ...] = ()
    flagged_input: bool = False
    private: bool | None = None  # private mode asked for (`core.privacy`); None: the default

    @classmethod
    def typed(cls, kind: JobKind, options: Mapping[str, Any], *, prompt: str | None) -> Generate:
        """From options as a person typed them (`--model` among them) and the prompt, if the
        kind takes one."""
        rest = {k: v for k, v in options.items() if k not in ("model", "private")}
        if prompt is not None:
            rest["prompt"] = prompt
        return cls(kind, str(options.get("model") or ""), rest, private=_flag(options))

    def with_images(self, images: tuple[InputImage, ...], *, flagged: bool) -> Generate:
        """This command once its images are fetched (`flagged`: they reuse a flagged result)."""
        return dataclasses.replace(self, images=images, flagged_input=flagged)


def _flag(options: Mapping[str, Any]) -> bool | None:
    """`--private` as typed: a bare flag, or a yes/no word after it; None when not given."""
    value = options.get("private")
    if value is None:
        return None
    return value is True or str(value).strip().lower() in {"1", "yes", "true", "on"}


# rerun: the same job with a new seed; edit: one image of the result with a prompt; the image
# verbs of issue 14 (`core.verbs`): vary_subtle, vary_strong, upscale, upscale_creative,
# zoom_2, zoom_1.5, pan_left/right/up/down, animate, each on one image (`image_index`, 0-based);
# imagine: /imagine of a describe's suggestion (`image_index` names it, 0-based; see
# `core.describe`); fill: repaint the region of that image `mask_url` marks (the region
# painter's page, `core.painting`).
FollowUpAction = Literal[
    "rerun",
    "edit",
    "vary_subtle",
    "vary_strong",
    "upscale",
    "upscale_creative",
    "zoom_2",
    "zoom_1.5",
    "pan_left",
    "pan_right",
    "pan_up",
    "pan_down",
    "animate",
    "imagine",
    "fill",
]


@dataclass(frozen=True)
class FollowUp:
    """A button under a delivered result, on the job `job_id`."""

    job_id: str
    action: FollowUpAction
    image_index: int | None = None  # None (buttons made before grids): the first image
    prompt: str | None = None  # edit's and fill's; a remix's for rerun and the image verbs
    model: str | None = None  # edit only; None is the edit default
    private: bool | None = None  # None: private when its result is (`core.privacy`)
    mask_url: str | None = None  # fill only: white is repainted, black kept


@dataclass(frozen=True)
class Cancel:
    job_id: str


Command = Generate | FollowUp

# A mention asks for an upscale (Discord and Slack alike) when its first word is one of these,
# followed by nothing but "it" or "this", and options (`--scale 3`, where the platform has them).
# Anything else is an edit's prompt ("upscale the sky" edits).
UPSCALE_WORDS = frozenset({"upscale", "enhance"})
_FILLER = frozenset({"it", "this"})


def asks_upscale(text: str) -> bool:
    """Whether a mention's text (the bot's own mention removed) asks for an upscale."""
    words = [w.strip(".!").lower() for w in text.split()]
    if not words or words[0] not in UPSCALE_WORDS:
        return False
    rest = words[1:]
    if rest and rest[0] in _FILLER:
        rest = rest[1:]
    return not rest or rest[0].startswith("--")
