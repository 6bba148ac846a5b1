"""The region painter's HTTP routes (aiohttp), mounted on falbot's public server.

`/paint/<token>` is the page, `/paint/<token>/image` the image it paints on, a POST to
`/paint/<token>` the job (`{"prompt": …, "mask": "data:image/png;base64,…"}`), and
`/paint/<token>/status` how it does. Everything else is core's (`core.painting.Painter`): this
module only translates. Every answer forbids other origins (a strict Content-Security-Policy),
caching and referrers (the token is in the address); every route is rate-limited per token and
per client address. Nothing here logs a path: it holds the token."""

from __future__ import annotations

import base64
import binascii
import html
import json
import logging
import re
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from string import Template
from typing import Any

from aiohttp import web

from core.confirmations import PriceQuote, QuoteFirst
from core.errors import BotError, ErrorCode, internal_error, invalid
from core.markup import translate
from core.masks import MASK_MAX_BYTES
from core.money import format_usd
from core.painting import LinkGone, Painter, PaintStatus

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}
_STATIC = {"paint.js": "text/javascript", "paint.css": "text/css"}
_PREFIX = "data:image/png;base64,"
_QUOTE_ID = re.compile(r"^[0-9a-f]{32}$")  # a quote the page confirms
# The body of a submit: the mask in base64 (4/3 of its bytes), the prompt, the JSON around them.
MAX_BODY = MASK_MAX_BYTES * 4 // 3 + 64 * 1024
_STATUS = {
    ErrorCode.INVALID_INPUT: 422,
    ErrorCode.NOT_ALLOWED: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.QUOTA_EXHAUSTED: 429,
    ErrorCode.BUDGET_EXHAUSTED: 403,
    ErrorCode.BUSY: 503,
}


class RateLimit:
    """At most `limit` requests in any `window` seconds per key (a sliding window)."""

    def __init__(
        self, *, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}

    def allow(self, key: str) -> float | None:
        """None when `key` may go on (and it is counted), else seconds until it may."""
        now = self._clock()
        if len(self._seen) > 10_000:  # forget quiet keys rather than grow without end
            self._seen = {k: q for k, q in self._seen.items() if q and q[-1] > now - self.window}
        seen = self._seen.setdefault(key, deque())
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        if len(seen) >= self.limit:
            return max(0.1, seen[0] + self.window - now)
        seen.append(now)
        return None


class PaintRoutes:
    """Mount with `server.add_routes(routes.add_routes)`."""

    def __init__(
        self,
        painter: Painter,
        *,
        per_token: RateLimit | None = None,
        per_address: RateLimit | None = None,
    ) -> None:
        self._painter = painter
        # A page polls its status every 1.5 s (40 a minute); a guesser tries many tokens.
        self._per_token = per_token or RateLimit(limit=60, window=60.0)
        self._per_address = per_address or RateLimit(limit=120, window=60.0)
        static = resources.files("adapters.web") / "static"
        self._page = Template((static / "paint.html").read_text("utf-8"))
        self._gone = Template((static / "gone.html").read_text("utf-8"))
        self._files = {name: (static / name).read_bytes() for name in _STATIC}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/paint/static/{name}", self._static)
        app.router.add_get("/paint/{token}", self._show)
        app.router.add_post("/paint/{token}", self._submit)
        app.router.add_get("/paint/{token}/image", self._image)
        app.router.add_get("/paint/{token}/status", self._status)

    # ---- routes

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self._files:
            raise web.HTTPNotFound(headers=_HEADERS)
        headers = {**_HEADERS, "Cache-Control": "public, max-age=3600"}
        return web.Response(body=self._files[name], content_type=_STATIC[name], headers=headers)

    async def _show(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if (wait := self._limited(request, token)) is not None:
            return self._gone_page(_slow_down(wait), status=429)
        try:
            page = await self._painter.page(token)
        except BotError as error:
            return self._gone_page(error, status=_status(error))
        text = self._page.substitute(
            base=_attr(f"/paint/{token}"),
            width=page.width,
            height=page.height,
            place=_attr(page.place),
            price=_attr(page.price),
            model=_attr(page.model),
            prompt_max=page.prompt_max,
            expires=_attr(_clock_time(page.expires_at)),
        )
        return web.Response(text=text, content_type="text/html", headers=_HEADERS)

    async def _image(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if (wait := self._limited(request, token)) is not None:
            return _json_error(_slow_down(wait), status=429)
        try:
            data, content_type = await self._painter.image(token)
        except BotError as error:
            return _json_error(error, status=_status(error))
        return web.Response(body=data, content_type=content_type, headers=_HEADERS)

    async def _submit(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if (wait := self._limited(request, token)) is not None:
            return _json_error(_slow_down(wait), status=429)
        try:
            await self._painter.check(token)
            prompt, mask, confirm = await _read_submit(request)
            status = await self._painter.submit(token, prompt=prompt, mask=mask, confirm=confirm)
        except QuoteFirst as first:
            return _json_quote(first.quote)
        except BotError as error:
            return _json_error(error, status=_status(error))
        except Exception:
            log.exception("a painting page's submit failed")
            return _json_error(internal_error(), status=500)
        return _json(_status_body(status), status=202)

    async def _status(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if (wait := self._limited(request, token)) is not None:
            return _json_error(_slow_down(wait), status=429)
        try:
            status = await self._painter.status(token)
        except BotError as error:
            return _json_error(error, status=_status(error))
        return _json(_status_body(status))

    # ---- helpers

    def _limited(self, request: web.Request, token: str) -> float | None:
        address = request.remote or "unknown"
        wait = self._per_address.allow(address)
        if wait is None:
            wait = self._per_token.allow(token)
        if wait is not None:
            log.info("painting page: a client is slowed down for %.0f s", wait)
        return wait

    def _gone_page(self, error: BotError, *, status: int) -> web.Response:
        title = {404: "Link not found", 410: "Link no longer valid", 429: "Too many requests"}
        text = self._gone.substitute(
            title=_attr(title.get(status, "Something went wrong")),
            message=_attr(error.message),
            hint=_attr(error.hint),
        )
        headers = dict(_HEADERS)
        if error.retry_after is not None:
            headers["Retry-After"] = str(max(1, round(error.retry_after)))
        return web.Response(text=text, status=status, content_type="text/html", headers=headers)


async def _read_submit(request: web.Request) -> tuple[str, bytes, str | None]:
    """The prompt, the mask's bytes and the quote it confirms (if any), read within
    `MAX_BODY`; a clear error otherwise."""
    if request.content_type != "application/json":
        raise invalid("Send the form from the painting page.", "Reload the page and try again.")
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise _too_big()
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > MAX_BODY:
            raise _too_big()
    try:
        data = json.loads(body)
        prompt, mask, confirm = data["prompt"], data["mask"], data.get("confirm")
        if not isinstance(prompt, str) or not isinstance(mask, str):
            raise TypeError
        if confirm is not None and not (isinstance(confirm, str) and _QUOTE_ID.match(confirm)):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise invalid(
            "That request is not one the painting page sends.", "Reload the page."
        ) from None
    if not mask.startswith(_PREFIX):
        raise invalid("The mask must be a PNG image.", "Paint the region again and press Submit.")
    try:
        return prompt, base64.b64decode(mask[len(_PREFIX) :], validate=True), confirm
    except (binascii.Error, ValueError):
        raise invalid("The mask is damaged.", "Paint the region again and press Submit.") from None


def _too_big() -> BotError:
    return invalid(
        f"The mask is bigger than {MASK_MAX_BYTES // 1_048_576} MiB.",
        "Paint the region again and press Submit.",
    )


def _slow_down(wait: float) -> BotError:
    return BotError(
        ErrorCode.BUSY,
        "Too many requests from here.",
        hint=f"Wait {wait:.0f} s and try again.",
        retry_after=wait,
    )


def _status(error: BotError) -> int:
    if isinstance(error, LinkGone):
        return 404 if error.reason == "unknown" else 410
    if error.retry_after is not None and error.code is ErrorCode.BUSY:
        return 429
    return _STATUS.get(error.code, 500)


def _status_body(status: PaintStatus) -> dict[str, Any]:
    return {
        "ok": True,
        "state": status.state,
        "place": status.place,
        "job": status.job,
        "position": status.position,
        "message": status.message,
    }


def _json(body: dict[str, Any], *, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, headers=_HEADERS)


def _json_quote(quote: PriceQuote) -> web.Response:
    """A job above the workspace's threshold: its price, for the page to confirm (402)."""
    text = translate(
        quote.text(),
        user=lambda _: "",
        role=lambda _: "",
        clock=lambda unix, _: _clock_time(datetime.fromtimestamp(unix, UTC)) + " UTC",
    ).replace("**", "")
    label = f"Confirm {format_usd(quote.estimate_usd)}"
    body = {"ok": False, "quote": {"id": quote.id, "text": text, "confirm": label}}
    return web.json_response(body, status=402, headers=_HEADERS)


def _json_error(error: BotError, *, status: int) -> web.Response:
    detail: dict[str, Any] = {"code": error.code.value, "message": error.message}
    detail["hint"] = error.hint
    if isinstance(error, LinkGone):
        detail["reason"] = error.reason
    headers = dict(_HEADERS)
    if error.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    return web.json_response({"ok": False, "error": detail}, status=status, headers=headers)


def _attr(text: str) -> str:
    return html.escape(text, quote=True)


def _clock_time(at: datetime) -> str:
    return at.strftime("%H:%M")
