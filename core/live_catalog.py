"""The catalog in use, shared by everything that reads it: refreshed prices swap it in one place
(`use`), and every reader (admission, execution, the adapters' model lists) sees the new one."""

from __future__ import annotations

from core.catalog import Catalog, ModelSpec
from core.errors import invalid
from core.jobs import JobKind


class LiveCatalog:
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def use(self, catalog: Catalog) -> None:
        """Price new jobs (and jobs settling from now on) from `catalog`: refreshed prices.

        It must name the same models: jobs in flight and stored ones refer to them by name."""
        have = {spec.name for spec in self._catalog.all()}
        given = {spec.name for spec in catalog.all()}
        if given != have:
            raise ValueError(f"a refreshed catalog must keep the same models ({have ^ given})")
        self._catalog = catalog

    def get(self, name: str) -> ModelSpec:
        return self._catalog.get(name)

    def all(self) -> list[ModelSpec]:
        return self._catalog.all()

    def default_for(self, kind: JobKind) -> ModelSpec:
        return self._catalog.default_for(kind)

    def for_kind(self, kind: JobKind, name: str = "") -> ModelSpec:
        """The model a job of `kind` runs on: the one named, or the kind's default. A model of
        another kind is refused (an edit never runs on an upscale model)."""
        spec = self._catalog.get(name) if name else self._catalog.default_for(kind)
        if spec.kind is not kind:
            raise invalid(
                f"{spec.name} is {_a(spec.kind)} model, not {_a(kind)} one.",
                "See /models for the models of each kind.",
            )
        return spec


def _a(kind: JobKind) -> str:
    return f"an {kind.value}" if kind.value[0] in "aeiou" else f"a {kind.value}"
