"""The kind of output each simulated endpoint makes (an image, an edit, a video…)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

Kind = Literal["image", "edit", "upscale", "video", "expand", "fill", "animate", "vary", "describe"]

# The kind of output each endpoint of the model table makes; `FalSimulator.endpoint_kinds`
# starts as a copy.
DEFAULT_KINDS: dict[str, Kind] = {
    "fal-ai/flux/dev": "image",
    "fal-ai/flux/schnell": "image",
    "fal-ai/nano-banana": "image",
    "fal-ai/nano-banana/edit": "edit",
    "fal-ai/gemini-3-pro-image-preview/edit": "edit",
    "fal-ai/gpt-image-1.5/edit": "edit",
    "fal-ai/esrgan": "upscale",
    "fal-ai/wan-25-preview/text-to-video": "video",
    "fal-ai/veo3": "video",
    "fal-ai/sora-2/text-to-video": "video",
    "fal-ai/clarity-upscaler": "upscale",
    "fal-ai/bria/expand": "expand",
    "fal-ai/flux-pro/kontext/multi": "edit",
    "fal-ai/wan-25-preview/image-to-video": "animate",
    "fal-ai/flux-pro/v1/fill": "fill",
    "fal-ai/flux/dev/image-to-image": "vary",
    "openrouter/router/vision": "describe",
}


def kind_of(endpoint: str, kinds: Mapping[str, Kind]) -> Kind:
    """The endpoint's kind: from the table, else guessed from its name."""
    if endpoint in kinds:
        return kinds[endpoint]
    name = endpoint.lower()
    if "video" in name or "veo" in name:
        return "video"
    if "esrgan" in name or "upscale" in name:
        return "upscale"
    if "edit" in name:
        return "edit"
    return "image"


__all__ = ["DEFAULT_KINDS", "Kind", "kind_of"]
