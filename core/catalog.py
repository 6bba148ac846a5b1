"""Every model falbot offers: input schema with caps, price rule and output parser."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from core.errors import BotError, ErrorCode, invalid
from core.jobs import JobKind, Output
from core.options import explain
from core.pricing import (
    ByQuality,
    PerImage,
    PerMegapixel,
    PerSecond,
    Pricing,
    Quote,
    QuoteRefused,
    TokenBilled,
    Tokens,
    apply_quote,
)

MAX_PROMPT = 2000
SEED_MAX = 2**32 - 1

# Option names users type, and the schema field each stands for.
ALIASES = {
    "count": "num_images",
    "n": "num_images",
    "aspect": "aspect_ratio",
    "audio": "generate_audio",
    "fidelity": "input_fidelity",
}


def clean_prompt(value: str) -> str:
    """Strip control and format characters; collapse white space; refuse what is left empty."""
    kept = []
    for ch in value:
        if ch in "\n\t\r":
            kept.append(" ")
        elif unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co"):
            kept.append(ch)
    text = " ".join("".join(kept).split())
    if not text:
        raise ValueError("the prompt is empty")
    return text


def _whole_number(value: object) -> object:
    """Text adapters hand over "5" where a choice of whole numbers is expected."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


Seconds = BeforeValidator(_whole_number)
Prompt = Annotated[str, Field(max_length=MAX_PROMPT), AfterValidator(clean_prompt)]
Count = Annotated[int, Field(ge=1, le=4)]
Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]
ImageAspect = Literal["1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "21:9"]
VideoAspect = Literal["16:9", "9:16"]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class TextToImage(_Input):
    prompt: Prompt
    aspect_ratio: ImageAspect = "1:1"
    num_images: Count = 1
    seed: Seed | None = None


class Edit(_Input):
    prompt: Prompt
    aspect_ratio: ImageAspect | None = None
    num_images: Count = 1
    seed: Seed | None = None


class ProEdit(Edit):
    resolution: Literal["1K", "2K", "4K"] = "1K"


class GptEdit(_Input):
    prompt: Prompt
    aspect_ratio: Literal["1:1", "3:2", "2:3"] = "1:1"
    quality: Literal["low", "medium", "high"] = "medium"
    # How closely the edit keeps the input's details (faces, text, logos). falbot sends it
    # always, so the bill never rests on fal's unstated default; high is fal's own default and
    # what an edit is for, low costs about $0.023 less per input image.
    input_fidelity: Literal["low", "high"] = "high"
    num_images: Count = 1
    seed: Seed | None = None


class Upscale(_Input):
    scale: Annotated[int, Field(ge=2, le=4)] = 2
    prompt: str | None = Field(default=None, max_length=MAX_PROMPT)  # ignored: esrgan takes none


class WanVideo(_Input):
    prompt: Prompt
    aspect_ratio: Literal["16:9", "9:16", "1:1"] = "16:9"
    resolution: Literal["480p", "720p", "1080p"] = "720p"
    duration: Annotated[Literal[5, 10], Seconds] = 5
    seed: Seed | None = None


class Veo3Video(_Input):
    prompt: Prompt
    aspect_ratio: VideoAspect = "16:9"
    duration: Annotated[Literal[4, 6, 8], Seconds] = 8
    generate_audio: bool = False
    seed: Seed | None = None


class SoraVideo(_Input):
    prompt: Prompt
    aspect_ratio: VideoAspect = "16:9"
    duration: Annotated[Literal[4, 8, 12], Seconds] = 4


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

Args = dict[str, Any]
ArgBuilder = Callable[[Mapping[str, Any], list[str]], Args]


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


def parse_output(kind: JobKind, data: Mapping[str, Any]) -> tuple[tuple[Output, ...], int | None]:
    """fal's output → our outputs and seed; a shape we cannot read is fal's failure, not ours."""
    try:
        if kind is JobKind.VIDEO:
            raw = [data["video"]]
        elif kind is JobKind.UPSCALE and "image" in data:
            raw = [data["image"]]
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


def _default_type(kind: JobKind) -> str:
    return "video/mp4" if kind is JobKind.VIDEO else "image/png"


def _int_or_none(value: Any) -> int | None:
    """A size or count as fal reports it; None when it is not a sane whole number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return int(value) if 0 <= value < 2**53 else None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    endpoint: str
    kind: JobKind
    description: str
    input_model: type[_Input]
    pricing: Pricing
    build_arguments: ArgBuilder
    max_input_images: int = 0
    fixed_price: str | None = None  # why fal's pricing API never sets this model's price

    @property
    def price_text(self) -> str:
        return self.pricing.describe()

    def validate(self, params: Mapping[str, Any], *, image_count: int) -> dict[str, Any]:
        """The user's options checked against this model's schema, with defaults filled in."""
        data = {ALIASES.get(k, k): v for k, v in params.items() if v is not None and k != "kind"}
        if self.kind in (JobKind.EDIT, JobKind.UPSCALE):
            if image_count == 0:
                raise invalid(f"{self.name} needs an image to work on.", "Attach an image.")
            if image_count > self.max_input_images:
                raise invalid(
                    f"{self.name} takes at most {self.max_input_images} image(s);"
                    f" you gave {image_count}.",
                    "Use fewer images.",
                )
        elif image_count:
            raise invalid(
                f"{self.name} makes images from text and takes no input image.",
                "Use /edit to change an image.",
            )
        try:
            return self.input_model.model_validate(data).model_dump()
        except ValidationError as exc:
            raise invalid(
                explain(self.name, self.input_model, exc), f"See /models for {self.name}'s options."
            ) from None

    def arguments(self, params: Mapping[str, Any], image_urls: list[str]) -> dict[str, Any]:
        return self.build_arguments(params, image_urls)


@dataclass(frozen=True)
class PriceReport:
    """What a pricing refresh did to one model: `detail` says the new price, or why not."""

    model: str
    endpoint: str
    refreshed: bool
    detail: str
    refused: bool = False  # fal quoted it and the quote was refused (worth a warning)
    changed: bool = False  # the model's price is not what it was


@dataclass(frozen=True)
class Repricing:
    """A catalog priced from fal's quotes where they could be trusted, and a report per model."""

    catalog: Catalog
    reports: tuple[PriceReport, ...]
    unknown: tuple[str, ...]  # endpoints fal quoted that no model uses (ignored)

    @property
    def refreshed(self) -> int:
        return sum(1 for r in self.reports if r.refreshed)

    def summary(self) -> str:
        return f"{self.refreshed} of {len(self.reports)} models priced from fal's pricing API"


class Catalog:
    """The models users may ask for, by short name."""

    def __init__(
        self,
        specs: list[ModelSpec],
        defaults: Mapping[JobKind, str],
        *,
        prices_from: str = "the built-in table",
    ) -> None:
        self._specs = {s.name: s for s in specs}
        self._defaults = dict(defaults)
        self.prices_from = prices_from  # where the prices came from, for /models and the logs

    def repriced(self, quotes: Iterable[Quote], *, source: str) -> Repricing:
        """A new catalog with each model's price set from fal's quote for its endpoint, where
        the quote applies (see `apply_quote`); every other model keeps its built-in price.

        This catalog is left as it was."""
        by_endpoint: dict[str, list[Quote]] = {}
        for quote in quotes:
            by_endpoint.setdefault(quote.endpoint_id, []).append(quote)
        specs: list[ModelSpec] = []
        reports: list[PriceReport] = []
        for spec in self._specs.values():
            new, report = _reprice(spec, by_endpoint.get(spec.endpoint, []))
            specs.append(new)
            reports.append(report)
        used = {s.endpoint for s in self._specs.values()}
        unknown = tuple(sorted(e for e in by_endpoint if e not in used))
        refreshed = sum(1 for r in reports if r.refreshed)
        prices_from = (
            f"{source} ({refreshed} of {len(reports)} models; the rest built-in)"
            if refreshed
            else self.prices_from
        )
        catalog = Catalog(specs, self._defaults, prices_from=prices_from)
        return Repricing(catalog, tuple(reports), unknown)

    def get(self, name: str) -> ModelSpec:
        spec = self._specs.get(name.strip().lower())
        if spec is None:
            known = ", ".join(self._specs)
            raise invalid(f"There is no model called `{name[:60]}`.", f"Models: {known}.")
        return spec

    def all(self) -> list[ModelSpec]:
        return list(self._specs.values())

    def default_for(self, kind: JobKind) -> ModelSpec:
        return self._specs[self._defaults[kind]]

    def resolve(self, name: str, kind: str | None) -> ModelSpec:
        """A named model, or the default for a kind; a model of the wrong kind is refused."""
        if name:
            spec = self.get(name)
        else:
            try:
                spec = self.default_for(JobKind(kind or "image"))
            except ValueError:
                raise invalid(f"Unknown kind of job `{kind}`.") from None
        if kind and spec.kind != kind and not (kind == "edit" and spec.kind is JobKind.UPSCALE):
            raise invalid(
                f"{spec.name} is a {spec.kind.value} model, not a {kind} one.",
                "See /models for the models of each kind.",
            )
        return spec


def _reprice(spec: ModelSpec, quotes: list[Quote]) -> tuple[ModelSpec, PriceReport]:
    def kept(why: str, *, refused: bool = False) -> tuple[ModelSpec, PriceReport]:
        detail = f"kept built-in {spec.price_text}: {why}"
        return spec, PriceReport(spec.name, spec.endpoint, False, detail, refused)

    if spec.fixed_price is not None:
        return kept(spec.fixed_price)
    if not quotes:
        return kept("fal gave no price for it")
    if any(q != quotes[0] for q in quotes[1:]):
        return kept(f"fal quoted it {len(quotes)} times with different figures", refused=True)
    try:
        priced = apply_quote(spec.pricing, quotes[0])
    except QuoteRefused as refusal:
        return kept(refusal.reason, refused=not refusal.expected)
    changed = priced.pricing != spec.pricing
    new = replace(spec, pricing=priced.pricing)
    return new, PriceReport(spec.name, spec.endpoint, True, priced.note, changed=changed)


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
    ]
    defaults = {
        JobKind.IMAGE: "flux-schnell",
        JobKind.EDIT: "nano-banana-edit",
        JobKind.UPSCALE: "esrgan",
        JobKind.VIDEO: "wan-2.5",
    }
    return Catalog(specs, defaults)


# The built-in table: immutable data, safe to share. Pricing refreshes build a new Catalog.
CATALOG = build_catalog()
