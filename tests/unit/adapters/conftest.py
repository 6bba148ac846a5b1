"""The adapters' renderers under test, with core's engine on fakes (the core fixtures)."""

from tests.unit.core.conftest import admin, clock, engine, fal, make_engine, store, ticking

__all__ = ["admin", "clock", "engine", "fal", "make_engine", "store", "ticking"]
