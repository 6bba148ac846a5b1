"""The requests behind a result's buttons (Rerun, Variations, Upscale and Edit) and which
buttons a result gets: one Upscale and one Edit per image the user can see (U1–U4 on a grid),
none for an output withheld as NSFW, and nothing but Delete when every output was withheld.
Variations is offered where the job's model makes several images at once."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.commands import Channel, FollowUp
from core.errors import invalid
from core.jobs import Actor, Delivery, InputImage, Job, JobKind, JobRequest, Output
from core.live_catalog import LiveCatalog
from core.nsfw import flagged_output

# How many images Variations asks for: one job, a new seed, four images (every image model
# falbot offers takes up to four at once; a model without a count has no Variations button).
VARIATIONS = 4

# The name every delivered file gets (`core.delivery`): the job's short id and the output's
# place, 1-based. A platform may prefix it (Discord's `SPOILER_`).
_RESULT_FILE = re.compile(r"(?:SPOILER_)?falbot-(?P<job>[0-9a-f]{8})-(?P<n>[1-9][0-9]?)\.\w+")


@dataclass(frozen=True)
class FollowUpMenu:
    """The buttons a delivered result gets, for the adapters to render."""

    rerun: bool
    vary: bool  # the job's model makes several images at once: four new ones in one job
    images: tuple[int, ...]  # outputs (0-based) Upscale and Edit may take, in order
    grid: bool  # more than one image output: each button names its image (U1, E2…)


def follow_up_menu(delivery: Delivery, *, spoilers: bool) -> FollowUpMenu:
    """Buttons only for what the user sees: withheld outputs get none, and so do spoilered ones
    on a platform without spoilers (which does not show them)."""
    outputs = delivery.result.outputs
    seen = [f for f in delivery.files if spoilers or not f.spoiler]
    images = tuple(
        outputs.index(f.output)
        for f in seen
        if f.output in outputs and f.output.content_type.startswith("image/")
    )
    image_outputs = sum(1 for o in outputs if o.content_type.startswith("image/"))
    return FollowUpMenu(
        rerun=bool(seen),
        vary=bool(seen) and "num_images" in delivery.job.arguments,
        images=images,
        grid=image_outputs > 1,
    )


def result_file(name: str) -> tuple[str, int] | None:
    """(job short id, 0-based output) of a file falbot delivered, from its name; else None."""
    match = _RESULT_FILE.fullmatch(name)
    return (match["job"], int(match["n"]) - 1) if match else None


def is_flagged(job: Job, index: int) -> bool:
    """Whether a job's output counts as flagged NSFW (out of range: the job's inputs' flag)."""
    outputs = job.result.outputs if job.result else ()
    own = outputs[index].nsfw if 0 <= index < len(outputs) else False
    return flagged_output(output_flag=own, job=job)


def follow_up_request(
    models: LiveCatalog,
    job: Job,
    command: FollowUp,
    *,
    actor: Actor,
    channel: Channel,
    reply_ref: Mapping[str, Any],
) -> JobRequest:
    """The request behind a result's button: `command.action` on the caller's own `job`."""
    if command.action in ("rerun", "vary"):
        params = {k: v for k, v in job.arguments.items() if k != "image_urls"}
        params["seed"] = random.randrange(2**31)  # a seed, not a secret
        if command.action == "vary":
            if "num_images" not in params:
                raise invalid(
                    f"{job.model} makes one result at a time: it has no variations.",
                    "Use Rerun for another one.",
                )
            params["num_images"] = VARIATIONS
        if command.prompt is not None and "prompt" in params:
            params["prompt"] = command.prompt  # remix mode: the prompt changed in its modal
        urls = list(job.arguments.get("image_urls") or [])
        images = tuple(InputImage(content_type="image/*", url=u) for u in urls)
        if "seed" not in models.get(job.model).input_model.model_fields:
            params.pop("seed")
        return JobRequest(
            actor,
            job.kind,
            job.model,
            params,
            images,
            reply_ref,
            parent_job_id=job.id,
            channel=channel,
            flagged_input=job.nsfw_input,
        )
    chosen, at = _picked(job, command.image_index)
    image = InputImage(content_type=chosen.content_type, url=chosen.url)
    flagged = is_flagged(job, at)
    if command.action == "upscale":
        kind, model, params = JobKind.UPSCALE, "", {}
    elif command.action == "fill":
        kind, model = JobKind.FILL, ""
        params = {"prompt": command.prompt or "", "mask_url": command.mask_url or ""}
    else:
        kind, model, params = JobKind.EDIT, command.model or "", {"prompt": command.prompt or ""}
    return JobRequest(
        actor,
        kind,
        model,
        params,
        (image,),
        reply_ref,
        parent_job_id=job.id,
        channel=channel,
        flagged_input=flagged,
    )


def picked_is_flagged(job: Job, index: int | None) -> bool:
    """Whether the image a button picks counts as flagged (an image not there is refused)."""
    return is_flagged(job, _picked(job, index)[1])


def _picked(job: Job, index: int | None) -> tuple[Output, int]:
    outputs = job.result.outputs if job.result else ()
    images = [i for i, o in enumerate(outputs) if o.content_type.startswith("image/")]
    if not images:
        raise invalid("That result has no image to work on.")
    at = images[0] if index is None else index
    if at not in images:
        raise invalid(
            f"That result has no image {at + 1}.", "Use the buttons under the image you want."
        )
    return outputs[at], at
