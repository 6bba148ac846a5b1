"""What each model takes from a user: pydantic input models with their caps and defaults."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
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


class ModelInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class TextToImage(ModelInput):
    prompt: Prompt
    aspect_ratio: ImageAspect = "1:1"
    num_images: Count = 1
    seed: Seed | None = None


class Edit(ModelInput):
    prompt: Prompt
    aspect_ratio: ImageAspect | None = None
    num_images: Count = 1
    seed: Seed | None = None


class ProEdit(Edit):
    resolution: Literal["1K", "2K", "4K"] = "1K"


class GptEdit(ModelInput):
    prompt: Prompt
    aspect_ratio: Literal["1:1", "3:2", "2:3"] = "1:1"
    quality: Literal["low", "medium", "high"] = "medium"
    # How closely the edit keeps the input's details (faces, text, logos). falbot sends it
    # always, so the bill never rests on fal's unstated default; high is fal's own default and
    # what an edit is for, low costs about $0.023 less per input image.
    input_fidelity: Literal["low", "high"] = "high"
    num_images: Count = 1
    seed: Seed | None = None


class Upscale(ModelInput):
    scale: Annotated[int, Field(ge=2, le=4)] = 2
    prompt: str | None = Field(default=None, max_length=MAX_PROMPT)  # ignored: esrgan takes none


class WanVideo(ModelInput):
    prompt: Prompt
    aspect_ratio: Literal["16:9", "9:16", "1:1"] = "16:9"
    resolution: Literal["480p", "720p", "1080p"] = "720p"
    duration: Annotated[Literal[5, 10], Seconds] = 5
    seed: Seed | None = None


class Veo3Video(ModelInput):
    prompt: Prompt
    aspect_ratio: VideoAspect = "16:9"
    duration: Annotated[Literal[4, 6, 8], Seconds] = 8
    generate_audio: bool = False
    seed: Seed | None = None


class SoraVideo(ModelInput):
    prompt: Prompt
    aspect_ratio: VideoAspect = "16:9"
    duration: Annotated[Literal[4, 8, 12], Seconds] = 4


# The verbs' models (issue 14). Sizes are in pixels; a side is at most fal's 5000.
Side = Annotated[int, Field(ge=64, le=5000)]
Offset = Annotated[int, Field(ge=0, le=5000)]


class CreativeUpscale(ModelInput):
    """clarity-upscaler: a factor of 1 to 4 (fal's `upscale_factor`; `scale`, as /upscale
    names it), and a prompt for the detail."""

    scale: Annotated[float, Field(ge=1, le=4)] = 2
    prompt: Prompt | None = None


class Expand(ModelInput):
    """bria/expand (zoom out, pan): the canvas, and where the original sits on it, in pixels.
    The original must lie inside the canvas; fal's limit is an area under 5000×5000."""

    canvas_width: Side
    canvas_height: Side
    image_width: Side
    image_height: Side
    image_x: Offset = 0
    image_y: Offset = 0
    prompt: Prompt | None = None
    seed: Seed | None = None

    @model_validator(mode="after")
    def _inside(self) -> Expand:
        if self.image_x + self.image_width > self.canvas_width:
            raise ValueError("the image does not fit the canvas's width at that place")
        if self.image_y + self.image_height > self.canvas_height:
            raise ValueError("the image does not fit the canvas's height at that place")
        if self.image_width == self.canvas_width and self.image_height == self.canvas_height:
            raise ValueError("the canvas is no bigger than the image: nothing to expand")
        return self


class Vary(ModelInput):
    """FLUX.1 [dev] image to image (Vary): the image is redrawn from itself with the prompt;
    `strength` (fal's 0.01 to 1, default 0.95) is how much changes: low keeps the picture."""

    prompt: Prompt
    strength: Annotated[float, Field(ge=0.01, le=1)] = 0.95
    num_images: Count = 1
    seed: Seed | None = None


class Blend(ModelInput):
    """FLUX.1 Kontext [pro] multi: two to five images (the images themselves come with the
    request; the catalog counts them) blended by a prompt."""

    prompt: Prompt
    aspect_ratio: Literal["21:9", "16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "9:21"] = "1:1"
    num_images: Count = 1
    seed: Seed | None = None


class Animate(ModelInput):
    """Wan 2.5 image to video: the image is the first frame; fal's prompt is at most 800."""

    prompt: Annotated[str, Field(max_length=800), AfterValidator(clean_prompt)]
    resolution: Literal["480p", "720p", "1080p"] = "720p"
    duration: Annotated[Literal[5, 10], Seconds] = 5
    seed: Seed | None = None


class Fill(ModelInput):
    """FLUX.1 [pro] Fill (issue 15's region painter): the mask's URL, the same size as the
    image; white is painted, black kept."""

    prompt: Prompt
    mask_url: Annotated[str, Field(min_length=1, max_length=2048, pattern=r"^(https?|data):")]
    num_images: Count = 1
    seed: Seed | None = None


class Describe(ModelInput):
    """A vision LLM's prompt suggestions for one image: nothing to choose (the instruction,
    the LLM and its token cap are falbot's, `core.describe`)."""
