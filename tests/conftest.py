"""Fixtures for every test: the fal simulator (`fal_sim`, one name everywhere; a module may
override it with its own timings) and a gateway on it (`fal_gateway`)."""

from tests.integration.fal.fixtures import fal_gateway, fal_sim

__all__ = ["fal_gateway", "fal_sim"]
