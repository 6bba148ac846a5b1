"""The image verbs under a result (issue 14): Vary (Subtle, Strong), Upscale (Subtle, Creative),
Zoom Out 1.5× and 2×, Pan ← → ↑ ↓ and Animate. Each takes one image of a delivered result (the
parent's output, as fal keeps it) and becomes a new job of its own kind, a child of the result.

Zoom and pan are one model (`bria-expand`): the canvas and where the image sits on it. Zoom out
puts the image in the middle of a canvas `factor` times each side; a pan makes the canvas half
as big again towards one side and puts the image against the other edge (pan left: the new
space is on the left, the image at the right edge), as Midjourney's pans do.

Which verbs anyone may press on someone else's result (`PUBLIC`): all of these. Each works on a
picture everyone in the channel already sees, and the job it makes is the presser's own: their
quota, ban, budget and models, and their credits. Rerun and Edit stay the requester's (they
continue the requester's own request); Delete is the requester's or an admin's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import invalid
from core.jobs import Job, JobKind, Output

# fal's bria/expand takes a canvas of at most 5000 a side (its area under 5000×5000).
MAX_SIDE = 5000
VARIATIONS = 4  # a Vary makes four, as Midjourney's does (and issue 12's Variations did)
STRENGTH = {"vary_subtle": 0.6, "vary_strong": 0.9}  # FLUX image-to-image: how much changes
ANIMATE_PROMPT_MAX = 800  # Wan 2.5's prompt limit
_NO_PROMPT = "the same scene, rendered again with natural variation"


@dataclass(frozen=True)
class Verb:
    action: str  # the FollowUp action, and the buttons' ids
    label: str  # as a button or a menu option shows it
    kind: JobKind  # the kind of job it makes: its model is the kind's default


VERBS: tuple[Verb, ...] = (
    Verb("vary_subtle", "Vary (Subtle)", JobKind.VARY),
    Verb("vary_strong", "Vary (Strong)", JobKind.VARY),
    Verb("upscale", "Upscale (Subtle)", JobKind.UPSCALE),
    Verb("upscale_creative", "Upscale (Creative)", JobKind.UPSCALE),
    Verb("zoom_2", "Zoom Out 2×", JobKind.EXPAND),
    Verb("zoom_1.5", "Zoom Out 1.5×", JobKind.EXPAND),
    Verb("pan_left", "⬅️ Pan", JobKind.EXPAND),
    Verb("pan_right", "➡️ Pan", JobKind.EXPAND),
    Verb("pan_up", "⬆️ Pan", JobKind.EXPAND),
    Verb("pan_down", "⬇️ Pan", JobKind.EXPAND),
    Verb("animate", "Animate", JobKind.ANIMATE),
)
BY_ACTION = {v.action: v for v in VERBS}
PUBLIC = frozenset(BY_ACTION)
# Upscale (Creative) is the clarity upscaler, not the upscale kind's default (esrgan).
CREATIVE_UPSCALER = "clarity-upscale"
ZOOMS = {"zoom_2": 2.0, "zoom_1.5": 1.5}
PANS = ("pan_left", "pan_right", "pan_up", "pan_down")


def verb_request(
    job: Job, image: Output, action: str, *, seed: int, prompt: str | None = None
) -> tuple[JobKind, str, dict[str, Any]]:
    """(kind, model or "" for the kind's default, options) of `action` on one image of `job`;
    `prompt` (a remix's) replaces the parent's."""
    verb = BY_ACTION[action]
    prompt = prompt.strip() if prompt and prompt.strip() else _prompt(job.arguments)
    if action in STRENGTH:
        options = {"prompt": prompt or _NO_PROMPT, "strength": STRENGTH[action]}
        return verb.kind, "", {**options, "num_images": VARIATIONS, "seed": seed}
    if action == "upscale":
        return verb.kind, "", {"scale": 2}
    if action == "upscale_creative":
        return verb.kind, CREATIVE_UPSCALER, {"scale": 2, **({"prompt": prompt} if prompt else {})}
    if action == "animate":
        text = (prompt or "gentle, natural motion")[:ANIMATE_PROMPT_MAX]
        return verb.kind, "", {"prompt": text, "seed": seed}
    width, height = _size(image)
    if action in ZOOMS:
        placement = zoom_canvas(width, height, ZOOMS[action])
    else:
        placement = pan_canvas(width, height, action.removeprefix("pan_"))
    extra = {"prompt": prompt} if prompt else {}
    return verb.kind, "", {**placement, **extra, "seed": seed}


def zoom_canvas(width: int, height: int, factor: float) -> dict[str, int]:
    """The image in the middle of a canvas `factor` times each side (both shrunk together when
    the canvas would pass fal's limit)."""
    return _fit(width, height, round(width * factor), round(height * factor), "centre")


def pan_canvas(width: int, height: int, direction: str) -> dict[str, int]:
    """A canvas half as big again towards `direction`, the image against the opposite edge."""
    if direction in ("left", "right"):
        return _fit(width, height, width + width // 2, height, direction)
    if direction in ("up", "down"):
        return _fit(width, height, width, height + height // 2, direction)
    raise invalid(f"`{direction[:20]}` is not a direction.", "Pan left, right, up or down.")


def _fit(width: int, height: int, canvas_w: int, canvas_h: int, towards: str) -> dict[str, int]:
    shrink = min(1.0, MAX_SIDE / max(canvas_w, canvas_h))
    if shrink < 1:
        width, height = int(width * shrink), int(height * shrink)
        canvas_w, canvas_h = int(canvas_w * shrink), int(canvas_h * shrink)
    x, y = (canvas_w - width) // 2, (canvas_h - height) // 2
    if towards == "left":  # new space on the left: the image at the right edge
        x, y = canvas_w - width, 0
    elif towards == "right":
        x, y = 0, 0
    elif towards == "up":  # new space above: the image at the bottom
        x, y = 0, canvas_h - height
    elif towards == "down":
        x, y = 0, 0
    return {
        "canvas_width": canvas_w,
        "canvas_height": canvas_h,
        "image_width": width,
        "image_height": height,
        "image_x": x,
        "image_y": y,
    }


def _prompt(arguments: Mapping[str, Any]) -> str:
    prompt = arguments.get("prompt")
    return prompt.strip() if isinstance(prompt, str) else ""


def _size(image: Output) -> tuple[int, int]:
    if not image.width or not image.height:
        raise invalid(
            "fal did not say how big that image is, so I cannot place it on a bigger canvas.",
            "Upscale it first, then zoom or pan the upscaled image.",
        )
    return image.width, image.height
