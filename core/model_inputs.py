"""What each model takes from a user: pydantic input models with their caps and defaults."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

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
