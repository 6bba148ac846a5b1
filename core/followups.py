"""The requests behind a result's buttons: Rerun (a new seed), Upscale and Edit."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, Literal

from core.catalog import Catalog
from core.errors import invalid
from core.jobs import Actor, InputImage, Job, JobKind, JobRequest

FollowUp = Literal["rerun", "upscale", "edit"]


def follow_up_request(
    catalog: Catalog,
    job: Job,
    *,
    action: FollowUp,
    actor: Actor,
    reply_ref: Mapping[str, Any],
    prompt: str | None = None,
    model: str | None = None,
    index: int = 0,
) -> JobRequest:
    """The request behind a result's Rerun, Upscale or Edit button."""
    if action == "rerun":
        params = {k: v for k, v in job.arguments.items() if k != "image_urls"}
        params["seed"] = random.randrange(2**31)  # a seed, not a secret
        urls = list(job.arguments.get("image_urls") or [])
        images = tuple(InputImage(content_type="image/*", url=u) for u in urls)
        if "seed" not in catalog.get(job.model).input_model.model_fields:
            params.pop("seed")
        return JobRequest(actor, job.model, params, images, reply_ref, job.id)
    outputs = job.result.outputs if job.result else ()
    images_out = [o for o in outputs if o.content_type.startswith("image/")]
    if not images_out:
        raise invalid("That result has no image to work on.")
    if action == "upscale":
        chosen = images_out[min(index, len(images_out) - 1)]
        image = InputImage(content_type=chosen.content_type, url=chosen.url)
        return JobRequest(actor, "", {"kind": "upscale"}, (image,), reply_ref, job.id)
    spec = catalog.get(model) if model else catalog.default_for(JobKind.EDIT)
    picked = images_out[: max(1, spec.max_input_images)]
    images = tuple(InputImage(content_type=o.content_type, url=o.url) for o in picked)
    return JobRequest(
        actor, spec.name, {"kind": "edit", "prompt": prompt or ""}, images, reply_ref, job.id
    )
