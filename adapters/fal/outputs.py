"""fal's JSON output read into falbot's outputs: a shape we cannot read is fal's failure."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from core.describe import suggestions
from core.errors import BotError, ErrorCode
from core.jobs import JobKind, Output


def parse_output(kind: JobKind, data: Mapping[str, Any]) -> tuple[tuple[Output, ...], int | None]:
    """fal's output → our outputs and seed; a shape we cannot read is fal's failure, not ours."""
    if kind is JobKind.DESCRIBE:
        return _texts(data), None
    try:
        if kind in (JobKind.VIDEO, JobKind.ANIMATE):
            raw = [data["video"]]
        elif "images" not in data and "image" in data:
            raw = [data["image"]]  # one image: an upscaler's or bria/expand's answer
        else:
            raw = list(data["images"])
        flags = data.get("has_nsfw_concepts") or []
        outputs = tuple(
            Output(
                url=str(item["url"]),
                content_type=str(item.get("content_type") or _default_type(kind)),
                width=_int_or_none(item.get("width")),
                height=_int_or_none(item.get("height")),
                file_name=item.get("file_name"),
                file_size=_int_or_none(item.get("file_size")),
                nsfw=bool(flags[i]) if i < len(flags) else False,
            )
            for i, item in enumerate(raw)
        )
        seed = data.get("seed")
        seed = int(seed) if isinstance(seed, int | str) and str(seed).isdigit() else None
    except (KeyError, TypeError, ValueError) as exc:
        raise BotError(
            ErrorCode.PROVIDER_UNAVAILABLE,
            "fal returned a result I could not read.",
            hint="Try again.",
        ) from exc
    if not outputs:
        raise BotError(
            ErrorCode.PROVIDER_UNAVAILABLE,
            "fal finished without any output.",
            hint="Try again with another prompt.",
        )
    return outputs, seed


def _texts(data: Mapping[str, Any]) -> tuple[Output, ...]:
    """A vision LLM's answer (`{"output": "…", "usage": {…}}`) as its prompt suggestions."""
    text = data.get("output")
    if not isinstance(text, str):
        raise BotError(
            ErrorCode.PROVIDER_UNAVAILABLE,
            "fal returned a description I could not read.",
            hint="Try again.",
        )
    found = suggestions(text)
    if not found:
        raise BotError(
            ErrorCode.PROVIDER_UNAVAILABLE,
            "fal's model gave no prompt suggestions for this image.",
            hint="Try again, or with another image.",
        )
    return tuple(Output(url="", content_type="text/plain", text=t) for t in found)


def _default_type(kind: JobKind) -> str:
    return "video/mp4" if kind in (JobKind.VIDEO, JobKind.ANIMATE) else "image/png"


def _int_or_none(value: Any) -> int | None:
    """A size or count as fal reports it; None when it is not a sane whole number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return int(value) if 0 <= value < 2**53 else None
