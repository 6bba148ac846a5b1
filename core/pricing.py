"""Prices in `Decimal` USD: an estimate before a job runs, the actual cost from its outputs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

from core.jobs import Output
from core.money import format_usd, usd

MEGAPIXEL = 1024 * 1024


def megapixels(width: int, height: int) -> Decimal:
    """Billed megapixels of one image: fal rounds each image up to whole megapixels, and
    1024×1024 is one (fal's $0.025 for it on FLUX dev), so 1024×576 is one and 1536×1024 two."""
    return Decimal(max(1, -(-(width * height) // MEGAPIXEL)))


class Pricing(Protocol):
    """One model's price rule.

    `input_images`: how many images the request gives the model (for rules that bill input
    tokens). `estimated`: the charge itself is an estimate (fal bills parts falbot cannot see,
    such as tokens), so texts say "about"."""

    estimated: ClassVar[bool]

    def estimate(self, params: Mapping[str, Any], *, input_images: int = 0) -> Decimal: ...

    def actual(self, params: Mapping[str, Any], outputs: tuple[Output, ...]) -> Decimal: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class _UnitPriced:
    """A rule with one price per unit; fal's quote is that price, and any multipliers the rule
    has are ratios to it, so a new quote replaces the price alone."""

    unit_usd: Decimal

    @property
    def base_usd(self) -> Decimal:
        return self.unit_usd

    def rebased(self, base_usd: Decimal) -> Self:
        return replace(self, unit_usd=base_usd)


@dataclass(frozen=True)
class PerImage(_UnitPriced):
    """A price per image, with multipliers keyed on a parameter (e.g. resolution 4K ×2)."""

    multiplier_param: str | None = None
    multipliers: Mapping[str, Decimal] = field(default_factory=dict)

    unit: ClassVar[str] = "images"
    estimated: ClassVar[bool] = False

    @property
    def tiers(self) -> dict[str, Decimal]:
        """Each figure fal could quote: the price per image at each multiplier's key."""
        if self.multiplier_param is None or not self.multipliers:
            return {"": self.unit_usd}
        return {k: usd(self.unit_usd * m) for k, m in self.multipliers.items()}

    def _unit(self, params: Mapping[str, Any]) -> Decimal:
        if self.multiplier_param is None:
            return self.unit_usd
        key = str(params.get(self.multiplier_param))
        return self.unit_usd * self.multipliers.get(key, Decimal(1))

    def estimate(self, params: Mapping[str, Any], *, input_images: int = 0) -> Decimal:
        return usd(self._unit(params) * int(params.get("num_images", 1)))

    def actual(self, params: Mapping[str, Any], outputs: tuple[Output, ...]) -> Decimal:
        return usd(self._unit(params) * len(outputs))

    def describe(self) -> str:
        text = f"{format_usd(self.unit_usd)} per image"
        extra = ", ".join(f"{k} ×{v}" for k, v in self.multipliers.items() if v != 1)
        return f"{text} ({extra})" if extra else text


@dataclass(frozen=True)
class PerMegapixel(_UnitPriced):
    """A price per megapixel: estimated from the requested size, charged from the outputs'."""

    sizes: Mapping[str, tuple[int, int]]  # aspect ratio → (width, height)

    unit: ClassVar[str] = "megapixels"
    estimated: ClassVar[bool] = False

    @property
    def tiers(self) -> dict[str, Decimal]:
        return {"": self.unit_usd}

    def estimate(self, params: Mapping[str, Any], *, input_images: int = 0) -> Decimal:
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
class PerScaledMegapixel(_UnitPriced):
    """A price per output megapixel for a model whose output is its input image's size times a
    factor (an upscaler; a fill, factor 1). Before the job the input's size is unknown, so the
    estimate takes a `base` image (a 1024×1024 result) times the requested factor; the charge
    is from the outputs' sizes."""

    factor_param: str | None = None
    base: tuple[int, int] = (1024, 1024)

    unit: ClassVar[str] = "megapixels"
    estimated: ClassVar[bool] = False

    @property
    def tiers(self) -> dict[str, Decimal]:
        return {"": self.unit_usd}

    def _size(self, params: Mapping[str, Any]) -> tuple[int, int]:
        factor = 1.0
        if self.factor_param is not None:
            factor = float(params.get(self.factor_param) or 1)
        return round(self.base[0] * factor), round(self.base[1] * factor)

    def estimate(self, params: Mapping[str, Any], *, input_images: int = 0) -> Decimal:
        count = int(params.get("num_images", 1))
        return usd(self.unit_usd * megapixels(*self._size(params)) * count)

    def estimate_from(self, params: Mapping[str, Any], size: tuple[int, int]) -> Decimal:
        """The estimate when the input's size is known (a result's image, an upload)."""
        return replace(self, base=size).estimate(params)

    def actual(self, params: Mapping[str, Any], outputs: tuple[Output, ...]) -> Decimal:
        fallback = self._size(params)
        total = Decimal(0)
        for out in outputs:
            w, h = (out.width, out.height) if out.width and out.height else fallback
            total += megapixels(w, h)
        return usd(self.unit_usd * total)

    def describe(self) -> str:
        return f"{format_usd(self.unit_usd)} per output megapixel"


def estimate_for(rule: Pricing, params: Mapping[str, Any], sizes: list[tuple[int, int]]) -> Decimal:
    """A job's estimate: from its first input's size where the rule scales with it and the size
    is known (a Vary or creative upscale of a big result costs what it will), else the rule's
    own."""
    known = [s for s in sizes if s[0] > 0 and s[1] > 0]
    if isinstance(rule, PerScaledMegapixel) and known:
        return rule.estimate_from(params, known[0])
    return rule.estimate(params, input_images=len(sizes))


@dataclass(frozen=True)
class ByQuality:
    """gpt-image style: a price per image by quality tier, square sizes at the lower figure."""

    tiers: Mapping[str, tuple[Decimal, Decimal]]  # quality → (square, other sizes)

    estimated: ClassVar[bool] = False

    def _unit(self, params: Mapping[str, Any]) -> Decimal:
        square, other = self.tiers[str(params.get("quality", "medium"))]
        return square if params.get("aspect_ratio", "1:1") == "1:1" else other

    def estimate(self, params: Mapping[str, Any], *, input_images: int = 0) -> Decimal:
        return usd(self._unit(params) * int(params.get("num_images", 1)))

    def actual(self, params: Mapping[str, Any], outputs: tuple[Output, ...]) -> Decimal:
        return usd(self._unit(params) * len(outputs))

    def describe(self) -> str:
        return (
            ", ".join(f"{q} {format_usd(a)}–{format_usd(b)}" for q, (a, b) in self.tiers.items())
            + " per image"
        )


@dataclass(frozen=True)
class Tokens:
    """fal's token prices for an OpenAI image model, per 1,000 tokens, and how many tokens an
    input image is at each input fidelity (fal's figure for a 1024×1024 image)."""

    text_in_usd: Decimal
    image_in_usd: Decimal
    text_out_usd: Decimal
    image_tokens: Mapping[str, int]  # input fidelity → tokens per input image
    tokens_per_word: int = 4  # fal's page: "One word is roughly 4 tokens."
    fidelity_param: str = "input_fidelity"


@dataclass(frozen=True)
class TokenBilled:
    """gpt-image edit: `per_image` for each output image, plus tokens fal bills on top: the
    prompt's text, every input image (by input fidelity) and the text the model reasons in.

    fal reports no token counts, so the token part is estimated from the request, at admission
    and at settlement alike: the prompt's words, the number of input images (the model resizes
    every input to its working size, so an image's tokens depend on the fidelity, not on how
    big the upload was) and as many reasoning tokens as the prompt has. The charge is an
    estimate and texts say "about"."""

    per_image: ByQuality
    tokens: Tokens

    estimated: ClassVar[bool] = True

    def _prompt_tokens(self, params: Mapping[str, Any]) -> int:
        return len(str(params.get("prompt") or "").split()) * self.tokens.tokens_per_word

    def _image_tokens(self, params: Mapping[str, Any]) -> int:
        figures = self.tokens.image_tokens
        fidelity = str(params.get(self.tokens.fidelity_param))
        return figures.get(fidelity, max(figures.values()))

    def token_usd(self, params: Mapping[str, Any], *, input_images: int) -> Decimal:
        """The token part of one request: text in, images in, reasoning text out."""
        t = self.tokens
        words = self._prompt_tokens(params)
        images = max(1, input_images) * self._image_tokens(params)
        per_1k = words * t.text_in_usd + images * t.image_in_usd + words * t.text_out_usd
        return usd(per_1k / 1000)

    def estimate(self, params: Mapping[str, Any], *, input_images: int = 0) -> Decimal:
        given = input_images or len(params.get("image_urls") or ())
        return usd(self.per_image.estimate(params) + self.token_usd(params, input_images=given))

    def actual(self, params: Mapping[str, Any], outputs: tuple[Output, ...]) -> Decimal:
        if not outputs:
            return Decimal(0)
        given = len(params.get("image_urls") or ())
        return usd(
            self.per_image.actual(params, outputs) + self.token_usd(params, input_images=given)
        )

    def describe(self) -> str:
        """Short enough for a choice label: the per-image range, and the tokens of an input
        image at the dearer fidelity (falbot's default)."""
        figures = [figure for pair in self.per_image.tiers.values() for figure in pair]
        per_input = usd(max(self.tokens.image_tokens.values()) * self.tokens.image_in_usd / 1000)
        return (
            f"{format_usd(min(figures))}–{format_usd(max(figures))} per image,"
            f" plus about {format_usd(per_input)} per input image"
        )


@dataclass(frozen=True)
class PerSecond:
    """A price per second of video, by resolution, doubled (or so) with audio."""

    by_resolution: Mapping[str, Decimal]
    audio_usd: Decimal | None = None  # the per-second price with audio, when it differs

    unit: ClassVar[str] = "seconds"
    estimated: ClassVar[bool] = False

    @property
    def base_usd(self) -> Decimal:
        """The cheapest figure (lowest resolution, no audio)."""
        return min(self.by_resolution.values())

    @property
    def tiers(self) -> dict[str, Decimal]:
        """Each figure fal could quote: per resolution, and with audio."""
        found = dict(self.by_resolution)
        if self.audio_usd is not None:
            found["with audio"] = self.audio_usd
        return found

    def rebased(self, base_usd: Decimal) -> PerSecond:
        """Every resolution and the audio price scaled alike: their ratios to the base stay."""
        factor = base_usd / self.base_usd
        return replace(
            self,
            by_resolution={k: usd(v * factor) for k, v in self.by_resolution.items()},
            audio_usd=None if self.audio_usd is None else usd(self.audio_usd * factor),
        )

    def _unit(self, params: Mapping[str, Any]) -> Decimal:
        if self.audio_usd is not None and params.get("generate_audio"):
            return self.audio_usd
        resolution = str(params.get("resolution", next(iter(self.by_resolution))))
        return self.by_resolution.get(resolution, max(self.by_resolution.values()))

    def estimate(self, params: Mapping[str, Any], *, input_images: int = 0) -> Decimal:
        return usd(self._unit(params) * Decimal(int(params["duration"])))

    def actual(self, params: Mapping[str, Any], outputs: tuple[Output, ...]) -> Decimal:
        return self.estimate(params) if outputs else Decimal(0)

    def describe(self) -> str:
        parts = [f"{format_usd(v)}/s at {k}" for k, v in self.by_resolution.items()]
        if self.audio_usd is not None:
            parts.append(f"{format_usd(self.audio_usd)}/s with audio")
        return ", ".join(parts)


@runtime_checkable
class Quotable(Protocol):
    """A rule fal's one figure can price: one base price its other figures keep their ratios
    to, and `tiers`, each figure fal could be quoting (name → price)."""

    unit: ClassVar[str]

    @property
    def base_usd(self) -> Decimal: ...

    @property
    def tiers(self) -> dict[str, Decimal]: ...

    def rebased(self, base_usd: Decimal) -> Pricing: ...


@dataclass(frozen=True)
class PerRequest:
    """One figure per request, for a model fal bills by tokens falbot cannot see (a vision
    LLM): `unit_usd` is falbot's estimate of a request's most (its image and instruction in,
    at most the `max_tokens` it asks for out), charged as it is; texts say "about"."""

    unit_usd: Decimal
    what: str = "request"

    estimated: ClassVar[bool] = True

    def estimate(self, params: Mapping[str, Any], *, input_images: int = 0) -> Decimal:
        return usd(self.unit_usd)

    def actual(self, params: Mapping[str, Any], outputs: tuple[Output, ...]) -> Decimal:
        return usd(self.unit_usd) if outputs else Decimal(0)

    def describe(self) -> str:
        return f"about {format_usd(self.unit_usd)} per {self.what}"
