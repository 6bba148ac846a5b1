"""A client that skips the cookie jar for responses without Set-Cookie still keeps the cookies
a response sets, and fal-client's inner client is found."""

from __future__ import annotations

import httpx
from fal_client.client import AsyncBackupDomainTransport

from adapters.fal.cookies import extract_only_when_set, inner_client


def _answer(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/login":
        return httpx.Response(200, headers={"Set-Cookie": "session=abc; Path=/"})
    return httpx.Response(200, json={"ok": True})


async def test_cookies_a_response_sets_are_still_kept_and_sent() -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_answer)) as client:
        extract_only_when_set(client)
        extract_only_when_set(client)  # twice is once
        await client.get("https://queue.fal.run/status")
        assert len(client.cookies.jar) == 0
        await client.get("https://queue.fal.run/login")
        assert client.cookies.get("session") == "abc"
        sent = await client.get("https://queue.fal.run/next")
        assert sent.request.headers["cookie"] == "session=abc"


async def test_inner_client_of_fal_clients_backup_transport() -> None:
    async with httpx.AsyncClient(transport=AsyncBackupDomainTransport()) as client:
        inner = inner_client(client)
        assert isinstance(inner, httpx.AsyncClient) and inner is not client
    async with httpx.AsyncClient() as plain:
        assert inner_client(plain) is None
