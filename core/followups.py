"""The requests behind a result's buttons (Rerun, Edit and the image verbs of `core.verbs`) and
which buttons a result gets: the verbs and Edit for each image the user can see, none for an
output withheld as NSFW, and nothing but Delete when every output was withheld."""

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
from core.verbs import BY_ACTION, verb_request

# The name every delivered file gets (`core.delivery`): the job's short id and the output's
# place, 1-based. A platform may prefix it (Discord's `SPOILER_`).
_RESULT_FILE = re.compile(r"(?:SPOILER_)?falbot-(?P<job>[0-9a-f]{8})-(?P<n>[1-9][0-9]?)\.\w+")


@dataclass(frozen=True)
class FollowUpMenu:
    """The buttons a delivered result gets, for the adapters to render."""

    rerun: bool
    images: tuple[int, ...]  # outputs (0-based) the verbs and Edit may take, in order
    grid: bool  # more than one image output: each image gets its own menu of verbs


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
    """The request behind a result's button: `command.action` on `job` (the caller's own, but
    for a public verb: `core.verbs.PUBLIC`)."""
    seed = random.randrange(2**31)  # a seed, not a secret
    if command.action == "rerun":
        params = {k: v for k, v in job.arguments.items() if k != "image_urls"}
        params["seed"] = seed
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
    image = InputImage(
        content_type=chosen.content_type,
        url=chosen.url,
        width=chosen.width or 0,
        height=chosen.height or 0,
    )
    if command.action not in BY_ACTION and command.action not in ("edit", "fill"):
        raise invalid("That button is broken.", "Use the buttons under a newer result.")
    if command.action in BY_ACTION:
        kind, model, params = verb_request(
            job, chosen, command.action, seed=seed, prompt=command.prompt
        )
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
        flagged_input=is_flagged(job, at),
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
