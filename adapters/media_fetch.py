"""Fetching user media from the platforms' own file hosts, and nothing else."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urljoin, urlsplit

import aiohttp
import yarl

from adapters.media_workers import WORKERS, ImageChecker
from core.errors import BotError, ErrorCode, invalid
from core.jobs import InputImage
from core.media import MAX_REQUEST_PIXELS, PixelBudget

log = logging.getLogger(__name__)

_MAX_REDIRECTS = 3

# The headers to send to one URL: asked again at every redirect hop, so a credential meant for
# one host is never carried to the next.
HeadersFor = Callable[[str], Mapping[str, str]]


class MediaFetcher:
    """Downloads an attachment from an allowed host, capped while streaming, then validates it.

    Redirects are followed by hand so that each hop is checked against the allowed hosts.
    Images are read and decoded in a small pool of worker processes, never on the event loop,
    and the pixels of one request's images are capped together (`request_budget`).
    """

    def __init__(
        self,
        *,
        allowed_hosts: Sequence[str],
        max_bytes: int,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
        max_request_pixels: int = MAX_REQUEST_PIXELS,
        decode_workers: int = WORKERS,
    ) -> None:
        self._hosts = tuple(h.lower() for h in allowed_hosts)
        self._max_bytes = max_bytes
        self._max_request_pixels = max_request_pixels
        self.images = ImageChecker(workers=decode_workers)
        self._session = session
        self._own_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    def allowed(self, url: str) -> bool:
        """Whether `url` names one of the allowed hosts, read the same way by every parser.

        A platform's file URL never carries credentials or a backslash in its authority; one
        that does is refused outright, because parsers disagree on where its host begins.
        """
        parts = urlsplit(url)
        if "@" in parts.netloc or "\\" in parts.netloc:
            return False
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("https", "http"):
            return False
        if parts.scheme == "http" and host not in ("127.0.0.1", "localhost", "::1"):
            return False
        try:
            connects_to = (yarl.URL(url).host or "").lower()
        except ValueError:
            return False
        if connects_to.strip("[]") != host:
            return False
        return host in self._hosts or parts.netloc.lower() in self._hosts

    async def fetch(self, url: str, *, headers: HeadersFor | None = None) -> bytes:
        """The raw bytes at `url`, or a `BotError` a user can act on. `headers(url)` is asked
        for each hop's headers, so a token goes only where it belongs."""
        session = self._session_or_new()
        for _ in range(_MAX_REDIRECTS + 1):
            if not self.allowed(url):
                log.warning("refused media fetch from host %s", urlsplit(url).hostname)
                raise invalid(
                    "That file is not on a host I fetch from.",
                    "Attach the image to your message instead of linking it.",
                )
            try:
                async with session.get(
                    url,
                    headers=dict(headers(url)) if headers is not None else {},
                    allow_redirects=False,
                    timeout=self._timeout,
                ) as resp:
                    if resp.status in (301, 302, 303, 307, 308) and "Location" in resp.headers:
                        url = urljoin(url, resp.headers["Location"])
                        continue
                    if resp.status != 200:
                        raise invalid(
                            f"I could not download that file (HTTP {resp.status}).",
                            "Upload it again and retry.",
                        )
                    ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
                    if ctype.startswith("text/html"):
                        # Slack answers a private file fetched without the bot token with a
                        # login page: never hand that to Pillow as if it were an image.
                        raise invalid(
                            "I was not allowed to download that file.",
                            "Make sure the app is in this channel and has the files:read scope.",
                        )
                    declared = resp.content_length
                    if declared is not None and declared > self._max_bytes:
                        raise self._too_big(declared)
                    data = bytearray()
                    async for chunk in resp.content.iter_chunked(64 * 1024):
                        data += chunk
                        if len(data) > self._max_bytes:
                            raise self._too_big(len(data))
                    return bytes(data)
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise BotError(
                    ErrorCode.PROVIDER_UNAVAILABLE,
                    "I could not download that file.",
                    hint="Try again in a moment.",
                ) from exc
        raise invalid("That file redirects too many times.", "Upload it again and retry.")

    def request_budget(self) -> PixelBudget:
        """The pixel cap one request's images share: make one per request."""
        return PixelBudget(self._max_request_pixels)

    async def fetch_image(
        self,
        url: str,
        *,
        headers: HeadersFor | None = None,
        budget: PixelBudget | None = None,
    ) -> InputImage:
        """Download an image and check it; with `budget`, its pixels count against the
        request's cap before it is decoded."""
        return await self.check_image(await self.fetch(url, headers=headers), budget=budget)

    async def check_image(self, data: bytes, *, budget: PixelBudget | None = None) -> InputImage:
        """Validate downloaded bytes in a worker process: the header, then the request's pixel
        cap, then the full decode."""
        return await self.images.check(
            data, max_bytes=self._max_bytes, budget=budget or self.request_budget()
        )

    def _too_big(self, size: int) -> BotError:
        return invalid(
            f"That file is over the {_size(self._max_bytes)} limit ({_size(size)} or more).",
            "Send a smaller image.",
        )

    def _session_or_new(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        return self._session

    async def aclose(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
        await self.images.aclose()


def _size(n: int) -> str:
    return f"{n / 1_048_576:.1f} MiB" if n >= 1_048_576 else f"{max(1, n // 1024)} KiB"
