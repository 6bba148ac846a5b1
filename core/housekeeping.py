"""Chores the engine does on its clock while it runs."""

from __future__ import annotations

import logging
from datetime import timedelta

from core.ports import Clock, Store

log = logging.getLogger(__name__)


async def prune_dedupe_forever(
    store: Store, clock: Clock, *, keep: timedelta, every: float
) -> None:
    """Forget dedupe keys older than `keep` every `every` seconds; without it the table only
    grows. A failed round is logged and the next one tries."""
    while True:  # at once too: a process restarted often must prune all the same
        try:
            pruned = await store.prune_dedupe(clock.now() - keep)
        except Exception:
            log.warning("pruning the dedupe keys failed; trying again later", exc_info=True)
        else:
            log.debug("pruned %d dedupe key(s)", pruned)
        await clock.sleep(every)
