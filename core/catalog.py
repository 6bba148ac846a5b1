"""The models users may ask for: each model's spec, and the catalog that finds them by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from core.errors import invalid
from core.jobs import JobKind
from core.model_inputs import ALIASES, ModelInput
from core.options import explain
from core.pricing import Pricing

Args = dict[str, Any]
ArgBuilder = Callable[[Mapping[str, Any], list[str]], Args]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    endpoint: str
    kind: JobKind
    description: str
    input_model: type[ModelInput]
    pricing: Pricing
    build_arguments: ArgBuilder
    max_input_images: int = 0  # 0: the model makes its output from text and takes no image
    min_input_images: int = 1  # when it takes images (a blend takes two or more)
    fixed_price: str | None = None  # why fal's pricing API never sets this model's price

    @property
    def price_text(self) -> str:
        return self.pricing.describe()

    def validate(self, params: Mapping[str, Any], *, image_count: int) -> dict[str, Any]:
        """The user's options checked against this model's schema, with defaults filled in."""
        data = {ALIASES.get(k, k): v for k, v in params.items() if v is not None}
        if self.max_input_images:
            if image_count == 0:
                raise invalid(f"{self.name} needs an image to work on.", "Attach an image.")
            if image_count < self.min_input_images:
                raise invalid(
                    f"{self.name} takes at least {self.min_input_images} images;"
                    f" you gave {image_count}.",
                    "Attach more images.",
                )
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
        self.defaults: Mapping[JobKind, str] = dict(defaults)  # each kind's model, by name
        self.prices_from = prices_from  # where the prices came from, for /models and the logs

    def get(self, name: str) -> ModelSpec:
        spec = self._specs.get(name.strip().lower())
        if spec is None:
            known = ", ".join(self._specs)
            raise invalid(f"There is no model called `{name[:60]}`.", f"Models: {known}.")
        return spec

    def all(self) -> list[ModelSpec]:
        return list(self._specs.values())

    def default_for(self, kind: JobKind) -> ModelSpec:
        return self._specs[self.defaults[kind]]
