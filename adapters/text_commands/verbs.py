"""The verbs users type on the text surfaces, with their options: the usage lines and help
are generated from this table, and the parser takes each verb's options from it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from adapters.text_commands.grammar import BY_FIELD


@dataclass(frozen=True)
class Verb:
    name: str
    args: str = ""  # its words, as usage shows them: `<prompt>`
    options: tuple[str, ...] = ()  # the fields of its options, in the order usage shows them
    model: str = ""  # the model usage shows as `--model`'s example
    examples: Mapping[str, str] = field(default_factory=dict)  # its own examples of options

    def usage(self, *, prefix: str = "/", args: str | None = None, named: bool = True) -> str:
        """`` `/imagine <prompt> [--model flux-dev] [--aspect 16:9] …` `` (the surface's own
        prefix, and its own words where they differ: a path on the console; `named=False`
        leaves the verb's name out, as a Slack mention that edits has none)."""
        parts = [f"{prefix}{self.name}" if named else prefix.rstrip()]
        words = self.args if args is None else args
        if words:
            parts.append(words)
        for name in self.options:
            option = BY_FIELD[name]
            example = self.model if name == "model" else self.examples.get(name, option.example)
            parts.append(f"[{option.shown}]" if example is None else f"[{option.shown} {example}]")
        return "`" + " ".join(parts) + "`"


IMAGINE = Verb(
    "imagine",
    "<prompt>",
    ("model", "aspect_ratio", "num_images", "seed", "private"),
    model="flux-dev",
)
VIDEO = Verb(
    "video",
    "<prompt>",
    ("model", "duration", "aspect_ratio", "resolution", "seed", "generate_audio", "private"),
    model="wan-2.5",
)
EDIT = Verb(
    "edit",
    "[what to change]",
    ("model", "aspect_ratio", "num_images", "seed", "quality", "resolution", "private"),
    model="nano-banana-edit",
    examples={"resolution": "1K"},
)
UPSCALE = Verb("upscale", "", ("model", "scale", "private"), model="esrgan")
# The image verbs on a result, by its job id (the buttons under a result, typed).
VARY = Verb("vary", "<job> [subtle|strong]", ("image",))
ZOOM = Verb("zoom", "<job> [2|1.5]", ("image",))
PAN = Verb("pan", "<job> left|right|up|down", ("image",))
ANIMATE = Verb("animate", "<job>", ("image",))
DESCRIBE = Verb("describe")
BLEND = Verb(
    "blend", "[prompt]", ("model", "aspect_ratio", "seed", "private"), model="kontext-blend"
)
SETTINGS = Verb("settings", "[workspace] [reset | model|aspect|count|remix|private VALUE …]")
MODELS = Verb("models")
QUOTA = Verb("quota")
USAGE = Verb("usage", "[days]")
JOBS = Verb("jobs")
CANCEL = Verb("cancel", "<job id>")
HELP = Verb("help")

JOB_VERBS = (IMAGINE, VIDEO, EDIT, UPSCALE)
IMAGE_VERBS = (DESCRIBE, BLEND)  # issue 14's commands that take images
ACCOUNT_VERBS = (MODELS, QUOTA, USAGE, JOBS, CANCEL, HELP)
