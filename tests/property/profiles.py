"""Hypothesis settings for falbot's property tests.

`make test` and CI run them derandomized: the same examples every run, so a red build means a
change broke something, never that a new random example happened to turn up. To hunt for new
failures, run with `HYPOTHESIS_PROFILE=explore` (random examples, ten times as many).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("falbot", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, max_examples=1000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "falbot"))
