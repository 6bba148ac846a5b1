"""Fixtures for every test: the fal simulator (`fal_sim`, one name everywhere; a module may
override it with its own timings), a gateway on it (`fal_gateway`), and a headless Chromium
for the tests of falbot's web pages (`browser`)."""

from tests.browser import browser
from tests.integration.fal.fixtures import fal_gateway, fal_sim

__all__ = ["browser", "fal_gateway", "fal_sim"]
