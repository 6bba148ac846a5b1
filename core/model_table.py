"""The model table: every model falbot offers, one entry each (its endpoint, input model, price
rule and how its options become fal's arguments). A new model is one entry here."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from core.catalog import Args, Catalog, ModelSpec
from core.describe import describe_arguments
from core.jobs import JobKind
from core.model_inputs import (
    Animate,
    Blend,
    CreativeUpscale,
    Describe,
    Edit,
    Expand,
    Fill,
    GptEdit,
    ProEdit,
    SoraVideo,
    TextToImage,
    Upscale,
    Vary,
    Veo3Video,
    WanVideo,
)
from core.pricing import (
    ByQuality,
    PerImage,
    PerMegapixel,
    PerRequest,
    PerScaledMegapixel,
    PerSecond,
    TokenBilled,
    Tokens,
)

FLUX_SIZES = {
    "1:1": (1024, 1024),
    "16:9": (1024, 576),
    "9:16": (576, 1024),
    "4:3": (1024, 768),
    "3:4": (768, 1024),
    "3:2": (1152, 768),
    "2:3": (768, 1152),
    "21:9": (1344, 576),
}
FLUX_PRESETS = {
    "1:1": "square_hd",
    "16:9": "landscape_16_9",
    "9:16": "portrait_16_9",
    "4:3": "landscape_4_3",
    "3:4": "portrait_4_3",
}
GPT_SIZES = {"1:1": "1024x1024", "3:2": "1536x1024", "2:3": "1024x1536"}


def _common(p: Mapping[str, Any], *names: str) -> Args:
    return {n: p[n] for n in names if p.get(n) is not None}


def _flux_args(p: Mapping[str, Any], _: list[str]) -> Args:
    aspect = str(p["aspect_ratio"])
    w, h = FLUX_SIZES[aspect]
    size: Any = FLUX_PRESETS.get(aspect, {"width": w, "height": h})
    return {**_common(p, "prompt", "num_images", "seed"), "image_size": size}


def _nano_args(p: Mapping[str, Any], _: list[str]) -> Args:
    return _common(p, "prompt", "num_images", "aspect_ratio")


def _edit_args(p: Mapping[str, Any], urls: list[str]) -> Args:
    return {**_common(p, "prompt", "num_images", "aspect_ratio", "resolution"), "image_urls": urls}


def _gpt_args(p: Mapping[str, Any], urls: list[str]) -> Args:
    args = _common(p, "prompt", "num_images", "quality", "input_fidelity")
    return {**args, "image_size": GPT_SIZES[str(p["aspect_ratio"])], "image_urls": urls}


def _esrgan_args(p: Mapping[str, Any], urls: list[str]) -> Args:
    return {"image_url": urls[0], "scale": p["scale"]}


def _wan_args(p: Mapping[str, Any], _: list[str]) -> Args:
    args = _common(p, "prompt", "aspect_ratio", "resolution", "seed")
    return {**args, "duration": str(p["duration"])}


def _veo_args(p: Mapping[str, Any], _: list[str]) -> Args:
    args = _common(p, "prompt", "aspect_ratio", "generate_audio", "seed")
    return {**args, "duration": f"{p['duration']}s"}


def _sora_args(p: Mapping[str, Any], _: list[str]) -> Args:
    return {**_common(p, "prompt", "aspect_ratio", "duration"), "resolution": "720p"}


def _clarity_args(p: Mapping[str, Any], urls: list[str]) -> Args:
    args = _common(p, "prompt")
    return {**args, "upscale_factor": p["scale"], "image_url": urls[0]}


def _expand_args(p: Mapping[str, Any], urls: list[str]) -> Args:
    return {
        **_common(p, "prompt", "seed"),
        "image_url": urls[0],
        "canvas_size": [p["canvas_width"], p["canvas_height"]],
        "original_image_size": [p["image_width"], p["image_height"]],
        "original_image_location": [p["image_x"], p["image_y"]],
    }


def _blend_args(p: Mapping[str, Any], urls: list[str]) -> Args:
    return {**_common(p, "prompt", "aspect_ratio", "num_images", "seed"), "image_urls": urls}


def _animate_args(p: Mapping[str, Any], urls: list[str]) -> Args:
    args = _common(p, "prompt", "resolution", "seed")
    return {**args, "duration": str(p["duration"]), "image_url": urls[0]}


def _vary_args(p: Mapping[str, Any], urls: list[str]) -> Args:
    args = _common(p, "prompt", "strength", "num_images", "seed")
    return {**args, "image_url": urls[0]}


def _fill_args(p: Mapping[str, Any], urls: list[str]) -> Args:
    return {**_common(p, "prompt", "mask_url", "num_images", "seed"), "image_url": urls[0]}


def _describe_args(p: Mapping[str, Any], urls: list[str]) -> Args:
    return describe_arguments(urls)


def _describe_spec() -> ModelSpec:
    """/describe on a vision LLM fal routes to OpenRouter. fal bills its tokens (the page:
    "charged based on the number of input and output tokens"), which falbot cannot see before
    or after, so it charges its estimate of a request's most: Gemini 2.5 Flash at $0.30 per
    million tokens in and $2.50 out; an image of up to 3072×3072 is at most 16 tiles of 258
    tokens, the instruction about 200: ≤4,400 tokens in ($0.0013), and at most 600 out
    ($0.0015): $0.003."""
    return ModelSpec(
        "describe",
        "openrouter/router/vision",
        JobKind.DESCRIBE,
        "Gemini 2.5 Flash (vision): four prompt suggestions for an image",
        Describe,
        PerRequest(Decimal("0.003"), "description"),
        _describe_args,
        max_input_images=1,
        fixed_price="billed by tokens of the model fal routes to; falbot charges its estimate",
    )


def _verb_specs() -> list[ModelSpec]:
    """The models of issue 14's verbs (and issue 15's fill), priced as fal's pages say."""
    d = Decimal
    return [
        ModelSpec(
            "clarity-upscale",
            "fal-ai/clarity-upscaler",
            JobKind.UPSCALE,
            "Clarity creative upscale ×1 to ×4, adds detail",
            CreativeUpscale,
            PerScaledMegapixel(d("0.03"), "scale"),
            _clarity_args,
            max_input_images=1,
        ),
        ModelSpec(
            "bria-expand",
            "fal-ai/bria/expand",
            JobKind.EXPAND,
            "Bria Expand: zoom out and pan onto a bigger canvas",
            Expand,
            PerImage(d("0.04")),
            _expand_args,
            max_input_images=1,
        ),
        ModelSpec(
            "kontext-blend",
            "fal-ai/flux-pro/kontext/multi",
            JobKind.BLEND,
            "FLUX.1 Kontext [pro] multi: blend 2 to 5 images",
            Blend,
            PerImage(d("0.04")),
            _blend_args,
            max_input_images=5,
            min_input_images=2,
        ),
        ModelSpec(
            "wan-2.5-animate",
            "fal-ai/wan-25-preview/image-to-video",
            JobKind.ANIMATE,
            "Wan 2.5 image to video: animate an image, 5 or 10 s",
            Animate,
            PerSecond({"480p": d("0.05"), "720p": d("0.10"), "1080p": d("0.15")}),
            _animate_args,
            max_input_images=1,
        ),
        ModelSpec(
            "flux-vary",
            "fal-ai/flux/dev/image-to-image",
            JobKind.VARY,
            "FLUX.1 [dev] image to image: variations of an image, subtle or strong",
            Vary,
            PerScaledMegapixel(d("0.025")),
            _vary_args,
            max_input_images=1,
        ),
        ModelSpec(
            "flux-fill",
            "fal-ai/flux-pro/v1/fill",
            JobKind.FILL,
            "FLUX.1 [pro] Fill: repaint a masked region",
            Fill,
            PerScaledMegapixel(d("0.05")),
            _fill_args,
            max_input_images=1,
        ),
    ]


def build_catalog(*, esrgan_usd: Decimal = Decimal("0.002")) -> Catalog:
    d = Decimal
    specs = [
        ModelSpec(
            "flux-dev",
            "fal-ai/flux/dev",
            JobKind.IMAGE,
            "FLUX.1 [dev]: detailed, controllable",
            TextToImage,
            PerMegapixel(d("0.025"), FLUX_SIZES),
            _flux_args,
        ),
        ModelSpec(
            "flux-schnell",
            "fal-ai/flux/schnell",
            JobKind.IMAGE,
            "FLUX.1 [schnell]: fast drafts",
            TextToImage,
            PerMegapixel(d("0.003"), FLUX_SIZES),
            _flux_args,
        ),
        ModelSpec(
            "nano-banana",
            "fal-ai/nano-banana",
            JobKind.IMAGE,
            "Gemini 2.5 Flash Image",
            TextToImage,
            PerImage(d("0.039")),
            _nano_args,
        ),
        ModelSpec(
            "nano-banana-edit",
            "fal-ai/nano-banana/edit",
            JobKind.EDIT,
            "Gemini 2.5 Flash Image edit: fast and cheap",
            Edit,
            PerImage(d("0.039")),
            _edit_args,
            max_input_images=4,
        ),
        ModelSpec(
            "nano-banana-pro-edit",
            "fal-ai/gemini-3-pro-image-preview/edit",
            JobKind.EDIT,
            "Gemini 3 Pro Image edit: best quality, up to 14 references",
            ProEdit,
            PerImage(d("0.15"), "resolution", {"1K": d(1), "2K": d(1), "4K": d(2)}),
            _edit_args,
            max_input_images=14,
        ),
        ModelSpec(
            "gpt-image-edit",
            "fal-ai/gpt-image-1.5/edit",
            JobKind.EDIT,
            "GPT Image 1.5 edit: precise instructions, text in images",
            GptEdit,
            TokenBilled(
                ByQuality(
                    {
                        "low": (d("0.009"), d("0.013")),
                        "medium": (d("0.034"), d("0.051")),
                        "high": (d("0.133"), d("0.200")),
                    }
                ),
                Tokens(
                    text_in_usd=d("0.005"),
                    image_in_usd=d("0.008"),
                    text_out_usd=d("0.010"),
                    image_tokens={"low": 135, "high": 3050},
                ),
            ),
            _gpt_args,
            max_input_images=4,
        ),
        ModelSpec(
            "esrgan",
            "fal-ai/esrgan",
            JobKind.UPSCALE,
            "ESRGAN upscale ×2 to ×4",
            Upscale,
            PerImage(esrgan_usd),
            _esrgan_args,
            max_input_images=1,
            fixed_price="priced by a catalog setting (fal's own figure varies)",
        ),
        ModelSpec(
            "wan-2.5",
            "fal-ai/wan-25-preview/text-to-video",
            JobKind.VIDEO,
            "Wan 2.5 text to video, 5 or 10 s",
            WanVideo,
            PerSecond({"480p": d("0.05"), "720p": d("0.10"), "1080p": d("0.15")}),
            _wan_args,
        ),
        ModelSpec(
            "veo3",
            "fal-ai/veo3",
            JobKind.VIDEO,
            "Google Veo 3, optional audio",
            Veo3Video,
            PerSecond({"720p": d("0.20")}, audio_usd=d("0.40")),
            _veo_args,
        ),
        ModelSpec(
            "sora-2",
            "fal-ai/sora-2/text-to-video",
            JobKind.VIDEO,
            "OpenAI Sora 2 text to video",
            SoraVideo,
            PerSecond({"720p": d("0.10")}),
            _sora_args,
        ),
        *_verb_specs(),
        _describe_spec(),
    ]
    defaults = {
        JobKind.IMAGE: "flux-schnell",
        JobKind.EDIT: "nano-banana-edit",
        JobKind.UPSCALE: "esrgan",
        JobKind.VIDEO: "wan-2.5",
        JobKind.EXPAND: "bria-expand",
        JobKind.FILL: "flux-fill",
        JobKind.BLEND: "kontext-blend",
        JobKind.ANIMATE: "wan-2.5-animate",
        JobKind.VARY: "flux-vary",
        JobKind.DESCRIBE: "describe",
    }
    return Catalog(specs, defaults)
