"""Pricing the catalog from fal's quotes: a new catalog, and a report per model."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from core.catalog import Catalog, ModelSpec
from core.quotes import Quote, QuoteRefused, apply_quote


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


def reprice(catalog: Catalog, quotes: Iterable[Quote], *, source: str) -> Repricing:
    """A new catalog with each model's price set from fal's quote for its endpoint, where
    the quote applies (see `apply_quote`); every other model keeps its built-in price.

    The catalog given is left as it was."""
    by_endpoint: dict[str, list[Quote]] = {}
    for quote in quotes:
        by_endpoint.setdefault(quote.endpoint_id, []).append(quote)
    specs: list[ModelSpec] = []
    reports: list[PriceReport] = []
    for spec in catalog.all():
        new, report = _reprice(spec, by_endpoint.get(spec.endpoint, []))
        specs.append(new)
        reports.append(report)
    used = {s.endpoint for s in catalog.all()}
    unknown = tuple(sorted(e for e in by_endpoint if e not in used))
    refreshed = sum(1 for r in reports if r.refreshed)
    prices_from = (
        f"{source} ({refreshed} of {len(reports)} models; the rest built-in)"
        if refreshed
        else catalog.prices_from
    )
    priced = Catalog(specs, catalog.defaults, prices_from=prices_from)
    return Repricing(priced, tuple(reports), unknown)


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
