"""`/vary JOB [strong]`, `/zoom JOB 2`, `/pan JOB left`, `/animate JOB`: the image verbs typed on
a text surface, as the `FollowUp` a result's button sends (`core.verbs`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from adapters.text_commands.grammar import Value, usage_error
from adapters.text_commands.verbs import ANIMATE, PAN, VARY, ZOOM, Verb
from core.commands import FollowUp, FollowUpAction

RESULT_VERBS = (VARY, ZOOM, PAN, ANIMATE)
_CHOICES: dict[str, dict[str, FollowUpAction]] = {
    VARY.name: {"": "vary_subtle", "subtle": "vary_subtle", "strong": "vary_strong"},
    ZOOM.name: {"": "zoom_2", "2": "zoom_2", "2x": "zoom_2", "1.5": "zoom_1.5", "1.5x": "zoom_1.5"},
    PAN.name: {
        "left": "pan_left",
        "right": "pan_right",
        "up": "pan_up",
        "down": "pan_down",
    },
    ANIMATE.name: {"": "animate"},
}


def read_job_verb(
    verb: Verb, words: Sequence[str], options: Mapping[str, Value], *, usage: str
) -> FollowUp:
    """The button's request for `/verb JOB [how] [--image N]`; a usage error otherwise."""
    if not words:
        raise usage_error(f"Which result? Give its job id (from /jobs) to /{verb.name}.", usage)
    if len(words) > 2:
        raise usage_error(f"/{verb.name} takes a job id and at most one word after it.", usage)
    how = words[1].lower().removesuffix("×") if len(words) == 2 else ""
    choices = _CHOICES[verb.name]
    action = choices.get(how)
    if action is None:
        named = ", ".join(f"`{c}`" for c in choices if c)
        raise usage_error(f"`{how[:20] or 'nothing'}` is not one of {named}.", usage)
    image = options.get("image")
    if image is not None and (not isinstance(image, int) or not 1 <= image <= 4):
        raise usage_error("`--image` is a number from 1 to 4.", usage)
    return FollowUp(words[0], action, image_index=image - 1 if isinstance(image, int) else None)
