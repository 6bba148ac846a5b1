"""httpx clients that look for cookies only in responses that set some.

httpx hands every response to its cookie jar: it copies the request into a `urllib` request
(parsing its URL again) and the response's headers into an `email.message.Message`, about
40 µs a response, for `http.cookiejar` to find no `Set-Cookie` header. fal's queue and CDN set
none; a fal request through fal-client is seen by two clients (fal-client's, and the one inside
its backup-domain transport), so that is seven copies per job. A response that does set a cookie
still goes to the jar exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

_SETS_COOKIES = ("set-cookie", "set-cookie2")


def extract_only_when_set(client: httpx.AsyncClient) -> None:
    """Let `client`'s cookie jar see only responses with a Set-Cookie (or Set-Cookie2) header;
    it would find nothing in the others. Done once per client; the jar is `client.cookies`."""
    cookies = client.cookies
    extract: Callable[[httpx.Response], None] = cookies.extract_cookies
    if getattr(extract, "_only_when_set", False):
        return

    def extract_when_set(response: httpx.Response) -> None:
        headers = response.headers
        if any(name in headers for name in _SETS_COOKIES):
            extract(response)

    extract_when_set._only_when_set = True  # type: ignore[attr-defined]
    setattr(cookies, "extract_cookies", extract_when_set)  # noqa: B010 (a method is replaced)


def inner_client(client: httpx.AsyncClient) -> httpx.AsyncClient | None:
    """The client inside fal-client's backup-domain transport (fal-client 1.0 sends every
    request through an `httpx.AsyncClient` wrapped in another), or None when there is none."""
    transport = getattr(client, "_transport", None)
    inner = getattr(transport, "_client", None)
    return inner if isinstance(inner, httpx.AsyncClient) else None
