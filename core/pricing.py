"""Prices in `Decimal` USD: an estimate before a job runs, the actual cost from its outputs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any, Protocol

from core.jobs import Output
from core.money import format_usd, usd

MEGAPIXEL = 1024 * 1024


def megapixels(width: int, height: int) -> Decimal:
    """Billed megapixels of one image (1024×1024 is one), rounded up to a hundredth."""
    return (Decimal(width * height) / Decimal(MEGAPIXEL)).quantize(
        Decimal("0.01"), rounding=ROUND_CEILING
    )


class Pricing(Protocol):
    """One model's price rule."""

    def estimate(self, params: Mapping[str, Any]) -> Decimal: ...

    def actual(self, params: Mapping[str, Any], outputs: tuple[Output, ...]) -> Decimal: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class PerImage:
    """A price per image, with multipliers keyed on a parameter (e.g. resolution 4K ×2)."""

    unit_usd: Decimal
    multiplier_param: str | None = None
    multipliers: Mapping[str, Decimal] = field(default_factory=dict)

    def _unit(self, params: Mapping[str, Any]) -> Decimal:
        if self.multiplier_param is None:
            return self.unit_usd
        key = str(params.get(self.multiplier_param))
        return self.unit_usd * self.multipliers.get(key, Decimal(1))

    def estimate(self, params: Mapping[str, Any]) -> Decimal:
        return usd(self._unit(params) * int(params.get("num_images", 1)))

    def actual(self, params: Mapping[str, Any], outputs: tuple[Output, ...]) -> Decimal:
        return usd(self._unit(params) * len(outputs))

    def describe(self) -> str:
        text = f"{format_usd(self.unit_usd)} per image"
        extra = ", ".join(f"{k} ×{v}" for k, v in self.multipliers.items() if v != 1)
        return f"{text} ({extra})" if extra else text


@dataclass(frozen=True)
class PerMegapixel:
    """A price per megapixel: estimated from the requested size, charged from the outputs'."""

    unit_usd: Decimal
    sizes: Mapping[str, tuple[int, int]]  # aspect ratio → (width, height)

    def estimate(self, params: Mapping[str, Any]) -> Decimal:
        width, height = self.sizes[str(params.get("aspect_ratio", "1:1"))]
        return usd(self.unit_usd * megapixels(width, height) * int(params.get("num_images", 1)))

    def actual(self, params: Mapping[str, Any], outputs: tuple[Output, ...]) -> Decimal:
        fallback = self.sizes[str(params.get("aspect_ratio", "1:1"))]
        total = Decimal(0)
        for out in outputs:
            w, h = (out.width, out.height) if out.width and out.height else fallback
            total += megapixels(w, h)
        return usd(self.unit_usd * total)

    def describe(self) -> str:
        return f"{format_usd(self.unit_usd)} per megapixel"


@dataclass(frozen=True)
class ByQuality:
    """gpt-image style: a price per image by quality tier, square sizes at the lower figure."""

    tiers: Mapping[str, tuple[Decimal, Decimal]]  # quality → (square, other sizes)

    def _unit(self, params: Mapping[str, Any]) -> Decimal:
        square, other = self.tiers[str(params.get("quality", "medium"))]
        return square if params.get("aspect_ratio", "1:1") == "1:1" else other

    def estimate(self, params: Mapping[str, Any]) -> Decimal:
        return usd(self._unit(params) * int(params.get("num_images", 1)))

    def actual(self, params: Mapping[str, Any], outputs: tuple[Output, ...]) -> Decimal:
        return usd(self._unit(params) * len(outputs))

    def describe(self) -> str:
        return (
            ", ".join(f"{q} {format_usd(a)}–{format_usd(b)}" for q, (a, b) in self.tiers.items())
            + " per image"
        )


@dataclass(frozen=True)
class PerSecond:
    """A price per second of video, by resolution, doubled (or so) with audio."""

    by_resolution: Mapping[str, Decimal]
    audio_usd: Decimal | None = None  # the per-second price with audio, when it differs

    def _unit(self, params: Mapping[str, Any]) -> Decimal:
        if self.audio_usd is not None and params.get("generate_audio"):
            return self.audio_usd
        resolution = str(params.get("resolution", next(iter(self.by_resolution))))
        return self.by_resolution.get(resolution, max(self.by_resolution.values()))

    def estimate(self, params: Mapping[str, Any]) -> Decimal:
        return usd(self._unit(params) * Decimal(int(params["duration"])))

    def actual(self, params: Mapping[str, Any], outputs: tuple[Output, ...]) -> Decimal:
        return self.estimate(params) if outputs else Decimal(0)

    def describe(self) -> str:
        parts = [f"{format_usd(v)}/s at {k}" for k, v in self.by_resolution.items()]
        if self.audio_usd is not None:
            parts.append(f"{format_usd(self.audio_usd)}/s with audio")
        return ", ".join(parts)
