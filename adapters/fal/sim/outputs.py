"""What each simulated endpoint produces: output shapes, sizes, and the files behind them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from adapters.fal.sim.faults import Fault
from adapters.fal.sim.kinds import Kind
from adapters.fal.sim.media import cap, draw_png, image_size, seed_of
from adapters.fal.sim.mp4 import tiny_mp4

PRESETS = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
RESOLUTION_SIDE = {"1K": 1024, "2K": 2048, "4K": 4096}
VIDEO_SIZES = {"16:9": (112, 64), "9:16": (64, 112), "1:1": (64, 64)}
MAX_IMAGES = 8
MAX_VIDEO_SECONDS = 20


class InputError(Exception):
    """The request's input is not acceptable: the run fails with this fault (a 422)."""

    def __init__(self, fault: Fault) -> None:
        super().__init__(str(fault.detail))
        self.fault = fault


@dataclass(frozen=True)
class PlannedFile:
    """One output file: its metadata now, its bytes from `render` (called lazily)."""

    name: str
    content_type: str
    render: Callable[[], bytes]
    width: int | None = None
    height: int | None = None


def plan(
    kind: Kind,
    arguments: Mapping[str, Any],
    *,
    request_id: str,
    fetch: Callable[[str], bytes],
    url_for: Callable[[str], str],
    video_fps: int = 2,
    nsfw_marker: str | None = "nsfw",
) -> tuple[dict[str, Any], list[PlannedFile]]:
    """The output JSON and the files it points at (`url_for(file name)` gives each URL).

    `fetch` reads an input URL and raises ValueError when it cannot. Bad input raises
    `InputError` carrying the 422 fal would answer. A prompt containing `nsfw_marker` is
    flagged in `has_nsfw_concepts`.
    """
    if kind == "upscale":
        return _upscale(arguments, request_id=request_id, fetch=fetch, url_for=url_for)
    if kind == "expand":
        return _expand(arguments, request_id=request_id, fetch=fetch, url_for=url_for)
    if kind == "describe":
        return _vision(arguments, request_id=request_id, fetch=fetch), []
    prompt = arguments.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError(Fault.validation("Field required", type="missing"))
    if kind == "animate":
        _fetch_image(fetch, arguments.get("image_url"), ("body", "image_url"))
    if kind in ("video", "animate"):
        return _video(arguments, prompt, request_id=request_id, fps=video_fps, url_for=url_for)
    count = arguments.get("num_images", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_IMAGES:
        raise InputError(
            Fault.validation(
                f"Input should be between 1 and {MAX_IMAGES}", loc=("body", "num_images")
            )
        )
    base: bytes | None = None
    if kind == "fill":
        base, default = _fill_inputs(arguments, fetch)
    elif kind == "vary":
        base, default = _vary_input(arguments, fetch)
    elif kind == "edit":
        urls = arguments.get("image_urls")
        if not isinstance(urls, list) or not urls:
            raise InputError(
                Fault.validation("Field required", loc=("body", "image_urls"), type="missing")
            )
        inputs = [_fetch_image(fetch, u, ("body", "image_urls", i)) for i, u in enumerate(urls)]
        base = inputs[0][0]
        default = inputs[0][1]
    else:
        default = (1024, 1024)
    width, height = default if kind in ("fill", "vary") else _size(arguments, default)
    flagged = bool(nsfw_marker) and str(nsfw_marker).lower() in prompt.lower()
    seed = arguments.get("seed")
    seed = (
        seed
        if isinstance(seed, int) and not isinstance(seed, bool)
        else seed_of(request_id) % 2**31
    )
    files = [
        PlannedFile(
            name=f"{i}.png",
            content_type="image/png",
            width=width,
            height=height,
            render=partial(
                draw_png, width, height, seed_of(prompt, seed, request_id, i), base=base
            ),
        )
        for i in range(count)
    ]
    output = {
        "images": [_describe(f, url_for) for f in files],
        "seed": seed,
        "has_nsfw_concepts": [flagged for _ in files],
        "prompt": prompt,
    }
    return output, files


def _upscale(
    arguments: Mapping[str, Any],
    *,
    request_id: str,
    fetch: Callable[[str], bytes],
    url_for: Callable[[str], str],
) -> tuple[dict[str, Any], list[PlannedFile]]:
    url = arguments.get("image_url")
    if not isinstance(url, str):
        raise InputError(
            Fault.validation("Field required", loc=("body", "image_url"), type="missing")
        )
    data, (width, height) = _fetch_image(fetch, url, ("body", "image_url"))
    scale = arguments.get("upscale_factor", arguments.get("scale", 2))  # clarity's; esrgan's
    if not isinstance(scale, int | float) or isinstance(scale, bool) or not 1 <= scale <= 8:
        raise InputError(Fault.validation("Input should be between 1 and 8", loc=("body", "scale")))
    out_w, out_h = cap(int(width * scale), int(height * scale))
    seed = seed_of(request_id, "esrgan")
    file = PlannedFile(
        name="upscaled.png",
        content_type="image/png",
        width=out_w,
        height=out_h,
        render=partial(draw_png, out_w, out_h, seed, base=data),
    )
    output = {"image": _describe(file, url_for), "seed": seed % 2**31}
    return output, [file]


def _pair(arguments: Mapping[str, Any], name: str) -> tuple[int, int]:
    value = arguments.get(name)
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
    ):
        raise InputError(Fault.validation("Invalid pair of integers", loc=("body", name)))
    return value[0], value[1]


def _expand(
    arguments: Mapping[str, Any],
    *,
    request_id: str,
    fetch: Callable[[str], bytes],
    url_for: Callable[[str], str],
) -> tuple[dict[str, Any], list[PlannedFile]]:
    """bria/expand: the answer is the canvas's size, the original drawn where it was placed."""
    data, _ = _fetch_image(fetch, arguments.get("image_url"), ("body", "image_url"))
    width, height = _pair(arguments, "canvas_size")
    if not 1 <= width * height < 5000 * 5000:
        raise InputError(
            Fault.validation("Area must be under 5000x5000", loc=("body", "canvas_size"))
        )
    placed_w, placed_h = _pair(arguments, "original_image_size")
    x, y = _pair(arguments, "original_image_location")
    if x + placed_w > width or y + placed_h > height:
        raise InputError(
            Fault.validation("The original lies outside the canvas", loc=("body", "canvas_size"))
        )
    seed = arguments.get("seed")
    seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else seed_of(request_id)
    out_w, out_h = cap(width, height)
    file = PlannedFile(
        name="expanded.png",
        content_type="image/png",
        width=out_w,
        height=out_h,
        render=partial(draw_png, out_w, out_h, seed_of(request_id, "expand"), base=data),
    )
    return {"image": _describe(file, url_for), "seed": seed % 2**31}, [file]


_LOOKS = ("a soft watercolour", "a crisp photograph", "a bold poster", "a quiet oil painting")


def _vision(
    arguments: Mapping[str, Any], *, request_id: str, fetch: Callable[[str], bytes]
) -> dict[str, Any]:
    """openrouter/router/vision: the LLM's text answer to `prompt` about `image_urls`; here
    four numbered prompts that name the image's size (so a test can tell which image it was
    given), and the token usage OpenRouter reports."""
    for field in ("prompt", "model"):
        if not isinstance(arguments.get(field), str) or not arguments[field].strip():
            raise InputError(
                Fault.validation("Field required", loc=("body", field), type="missing")
            )
    urls = arguments.get("image_urls")
    if not isinstance(urls, list) or not urls:
        raise InputError(
            Fault.validation("Field required", loc=("body", "image_urls"), type="missing")
        )
    sizes = [_fetch_image(fetch, u, ("body", "image_urls", i))[1] for i, u in enumerate(urls)]
    width, height = sizes[0]
    start = seed_of(request_id) % len(_LOOKS)
    lines = [
        f"{i}. {_LOOKS[(start + i) % len(_LOOKS)]} of a {width}x{height} scene, seen anew,"
        f" variation {i}"
        for i in range(1, 5)
    ]
    text = "\n".join(lines)
    prompt_tokens = 258 * len(urls) + len(str(arguments["prompt"]).split()) * 4
    completion = len(text.split()) * 4
    return {
        "output": text,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
            "cost": round((prompt_tokens * 0.3 + completion * 2.5) / 1e6, 7),
        },
    }


def _fill_inputs(
    arguments: Mapping[str, Any], fetch: Callable[[str], bytes]
) -> tuple[bytes, tuple[int, int]]:
    """FLUX Fill's image and mask, which must be the same size; the output is that size."""
    data, size = _fetch_image(fetch, arguments.get("image_url"), ("body", "image_url"))
    _, mask_size = _fetch_image(fetch, arguments.get("mask_url"), ("body", "mask_url"))
    if mask_size != size:
        raise InputError(
            Fault.validation(
                "The mask must match the dimensions of the input image", loc=("body", "mask_url")
            )
        )
    return data, size


def _vary_input(
    arguments: Mapping[str, Any], fetch: Callable[[str], bytes]
) -> tuple[bytes, tuple[int, int]]:
    """FLUX image to image: the image and a strength of 0.01 to 1; the output is its size."""
    strength = arguments.get("strength", 0.95)
    if not isinstance(strength, int | float) or isinstance(strength, bool):
        raise InputError(Fault.validation("Input should be a number", loc=("body", "strength")))
    if not 0.01 <= strength <= 1:
        raise InputError(
            Fault.validation("Input should be between 0.01 and 1", loc=("body", "strength"))
        )
    return _fetch_image(fetch, arguments.get("image_url"), ("body", "image_url"))


def _video(
    arguments: Mapping[str, Any],
    prompt: str,
    *,
    request_id: str,
    fps: int,
    url_for: Callable[[str], str],
) -> tuple[dict[str, Any], list[PlannedFile]]:
    seconds = _seconds(arguments.get("duration", 5))
    width, height = VIDEO_SIZES.get(str(arguments.get("aspect_ratio", "16:9")), VIDEO_SIZES["16:9"])
    seed = seed_of(prompt, request_id)
    color = (60 + seed % 120, 64 + (seed >> 8) % 128, 64 + (seed >> 16) % 128)
    data = tiny_mp4(width=width, height=height, seconds=seconds, fps=fps, color=color)
    file = PlannedFile(
        name="output.mp4", content_type="video/mp4", render=lambda: data, width=width, height=height
    )
    output = {
        "video": {
            "url": url_for(file.name),
            "content_type": "video/mp4",
            "file_name": file.name,
            "file_size": len(data),
        },
        "seed": seed % 2**31,
    }
    return output, [file]


def _describe(file: PlannedFile, url_for: Callable[[str], str]) -> dict[str, Any]:
    return {
        "url": url_for(file.name),
        "width": file.width,
        "height": file.height,
        "content_type": file.content_type,
        "file_name": file.name,
    }


def _fetch_image(
    fetch: Callable[[str], bytes], url: Any, loc: Sequence[str | int]
) -> tuple[bytes, tuple[int, int]]:
    try:
        if not isinstance(url, str):
            raise ValueError("not a URL")
        data = fetch(url)
        width, height, _ = image_size(data)
    except ValueError:
        raise InputError(
            Fault.validation(
                "Failed to download the file. Please check if the URL is accessible.",
                loc=loc,
                type="file_download_error",
            )
        ) from None
    return data, (width, height)


def _size(arguments: Mapping[str, Any], default: tuple[int, int]) -> tuple[int, int]:
    size = arguments.get("image_size")
    try:
        if isinstance(size, str) and size in PRESETS:
            return PRESETS[size]
        if isinstance(size, str) and re.fullmatch(r"\d{2,5}x\d{2,5}", size):
            w, h = (int(v) for v in size.split("x"))
            return cap(w, h)
        if isinstance(size, Mapping):
            return cap(int(size["width"]), int(size["height"]))
        if size is not None:
            raise ValueError(size)
        aspect = arguments.get("aspect_ratio")
        side = RESOLUTION_SIDE.get(str(arguments.get("resolution", "1K")), 1024)
        if isinstance(aspect, str):
            a, b = (int(v) for v in aspect.split(":"))
            if a <= 0 or b <= 0:
                raise ValueError(aspect)
            if a >= b:
                return side, max(8, round(side * b / a / 8) * 8)
            return max(8, round(side * a / b / 8) * 8), side
        if side != 1024:
            scale = side / max(default)
            return cap(int(default[0] * scale), int(default[1] * scale))
        return cap(*default)
    except (ValueError, KeyError, TypeError):
        raise InputError(
            Fault.validation("Invalid image size", loc=("body", "image_size"))
        ) from None


def _seconds(value: Any) -> int:
    match = re.fullmatch(r"\s*(\d{1,3})\s*s?\s*", str(value))
    if not match:
        raise InputError(Fault.validation("Invalid duration", loc=("body", "duration")))
    return max(1, min(MAX_VIDEO_SECONDS, int(match.group(1))))
