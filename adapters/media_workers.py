"""User images are read and decoded in a few worker processes, never on the event loop.

Processes, not threads: Pillow holds the GIL for long stretches of a decode (the WebP decoder
copies each finished 40 MP frame out under it, 0.2-0.3 s), so a decode in a thread still stalls
the loop. The workers start with the first image and stop after a minute without one (each
holds tens of MB). A refusal comes back from a worker as plain data: a `BotError` does not
survive pickling."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from core import media
from core.errors import BotError, invalid
from core.jobs import InputImage

log = logging.getLogger(__name__)

_T = TypeVar("_T")

# Few, so that a burst of large images waits its turn instead of taking every core (and the
# memory of many 40 MP decodes) at once.
WORKERS = 2
WORKER_NICENESS = 10
IDLE_STOP_S = 60.0


def read_header(data: bytes, max_bytes: int) -> media.ImageHeader | dict[str, object]:
    """In a worker: the image's header, or the refusal as `BotError.to_dict`."""
    try:
        return media.read_header(data, max_bytes=max_bytes)
    except BotError as error:
        return error.to_dict()


def decode(data: bytes, header: media.ImageHeader) -> dict[str, object] | None:
    """In a worker: None when every pixel decoded, else the refusal as `BotError.to_dict`."""
    try:
        media.decode(data, header)
    except BotError as error:
        return error.to_dict()
    return None


class ImageChecker:
    """`core.media`'s checks, run in a small pool of worker processes of its own."""

    def __init__(self, *, workers: int = WORKERS, idle_stop: float = IDLE_STOP_S) -> None:
        self._workers = workers
        self._idle_stop = idle_stop
        self._pool: ProcessPoolExecutor | None = None
        self._busy = 0
        self._idle_timer: asyncio.TimerHandle | None = None

    async def check(self, data: bytes, *, max_bytes: int, budget: media.PixelBudget) -> InputImage:
        """The header, then the request's pixel cap (counted here), then the full decode."""
        header = await self._run(read_header, data, max_bytes)
        if not isinstance(header, media.ImageHeader):
            raise BotError.from_dict(header)
        budget.take(header)
        refusal = await self._run(decode, data, header)
        if refusal is not None:
            raise BotError.from_dict(refusal)
        return media.checked_image(data, header)

    async def _run(self, fn: Callable[..., _T], *args: object) -> _T:
        loop = asyncio.get_running_loop()
        if self._pool is None:
            # Spawned, not forked: the bot's threads (aiosqlite's) must not be copied into a
            # child mid-flight. Niced: on a small machine the decodes take the cores the
            # event loop does not need, never its share.
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=os.nice,
                initargs=(WORKER_NICENESS,),
            )
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        pool = self._pool
        self._busy += 1
        try:
            return await loop.run_in_executor(pool, fn, *args)
        except BrokenProcessPool:
            # A worker died (killed by the OS for its memory, most likely): start afresh,
            # unless another call already did.
            if self._pool is pool:
                log.warning("an image worker process died; new ones start with the next image")
                self._stop(cancel=True)
            raise invalid(
                "I could not read that image.", "Send a smaller image, or try again."
            ) from None
        finally:
            self._busy -= 1
            if not self._busy:
                self._idle_timer = loop.call_later(self._idle_stop, self._stop_if_idle)

    def _stop_if_idle(self) -> None:
        if not self._busy:
            self._stop(cancel=False)

    def _stop(self, *, cancel: bool) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=cancel)  # its own thread reaps the workers

    async def aclose(self) -> None:
        """Stop the workers, after a decode under way (a second at most): none outlives us."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    @property
    def running(self) -> bool:
        """Whether worker processes are up (they start with the first image)."""
        return self._pool is not None
