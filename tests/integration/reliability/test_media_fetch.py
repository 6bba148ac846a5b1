"""User media is fetched only from the allowed hosts: other hosts and redirects to them are refused
before any request, sizes are capped while streaming, and a login page is never taken for an
image. Against a loopback server, through aiohttp as falbot uses it."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from adapters.media_fetch import MediaFetcher
from core.errors import BotError, ErrorCode

CAP = 64 * 1024
STREAM_TOTAL = 64 * 1024 * 1024


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(buf, "PNG")
    return buf.getvalue()


@dataclass
class Files:
    """A file host: records the paths asked for and how much of a stream it got out."""

    port: int = 0
    asked: list[str] = field(default_factory=list)
    streamed: int = 0
    stream_ended: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.asked.append(request.path)
        name = request.match_info["name"]
        if name == "ok.png":
            return web.Response(body=png(), content_type="image/png")
        if name == "login":
            return web.Response(text="<html>Sign in</html>", content_type="text/html")
        if name == "declared-huge":
            return web.Response(
                body=b"x" * 16, headers={"Content-Length": "16"}, content_type="image/png"
            )
        if name == "same-host":
            raise web.HTTPFound("/files/ok.png")
        if name == "elsewhere":
            raise web.HTTPFound(f"http://localhost:{self.port}/files/ok.png")
        if name == "loop":
            raise web.HTTPFound("/files/loop")
        if name == "endless":
            return await self._endless(request)
        return web.Response(status=404)

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        await response.prepare(request)
        chunk = b"\x89PNG" + b"\x00" * (64 * 1024 - 4)
        try:
            while self.streamed < STREAM_TOTAL:
                await response.write(chunk)
                self.streamed += len(chunk)
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            self.stream_ended.set()
        return response


@pytest.fixture
async def files() -> AsyncIterator[Files]:
    host = Files()
    app = web.Application()
    app.router.add_get("/files/{name}", host.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host.port = runner.addresses[0][1]
    try:
        yield host
    finally:
        await runner.cleanup()


@pytest.fixture
async def fetcher(files: Files) -> AsyncIterator[MediaFetcher]:
    media = MediaFetcher(allowed_hosts=[f"127.0.0.1:{files.port}"], max_bytes=CAP)
    try:
        yield media
    finally:
        await media.aclose()


async def refused(fetcher: MediaFetcher, url: str) -> BotError:
    with pytest.raises(BotError) as caught:
        await fetcher.fetch(url)
    assert caught.value.code is ErrorCode.INVALID_INPUT
    return caught.value


async def test_an_allowed_host_serves_the_image(fetcher: MediaFetcher, files: Files) -> None:
    image = await fetcher.fetch_image(f"{files.base}/files/ok.png")
    assert image.content_type == "image/png" and image.data == png()


async def test_another_host_is_refused_before_any_request(
    fetcher: MediaFetcher, files: Files
) -> None:
    error = await refused(fetcher, f"http://localhost:{files.port}/files/ok.png")
    assert "not on a host I fetch from" in error.message
    assert files.asked == []


async def test_a_redirect_to_another_host_is_refused(fetcher: MediaFetcher, files: Files) -> None:
    error = await refused(fetcher, f"{files.base}/files/elsewhere")
    assert "not on a host I fetch from" in error.message
    assert files.asked == ["/files/elsewhere"]  # the target was never asked


async def test_a_redirect_on_the_same_host_is_followed(fetcher: MediaFetcher, files: Files) -> None:
    assert await fetcher.fetch(f"{files.base}/files/same-host") == png()
    assert files.asked == ["/files/same-host", "/files/ok.png"]


async def test_endless_redirects_are_given_up(fetcher: MediaFetcher, files: Files) -> None:
    error = await refused(fetcher, f"{files.base}/files/loop")
    assert "redirects too many times" in error.message
    assert len(files.asked) == 4


async def test_size_is_capped_while_streaming(fetcher: MediaFetcher, files: Files) -> None:
    error = await refused(fetcher, f"{files.base}/files/endless")
    assert "limit" in error.message
    await asyncio.wait_for(files.stream_ended.wait(), 5)
    assert files.streamed < STREAM_TOTAL  # the download was cut off, not read to the end


async def test_a_login_page_is_never_taken_for_an_image(
    fetcher: MediaFetcher, files: Files
) -> None:
    error = await refused(fetcher, f"{files.base}/files/login")
    assert "not allowed to download" in error.message


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/x.png",
        "data:image/png;base64,iVBORw0KGgo=",
        "gopher://127.0.0.1:70/",
        "http://files.slack.com/x.png",  # plain http off loopback
        "https://files.slack.com.evil.example/x.png",
        "https://evil.example/files.slack.com/x.png",
        "https://files.slack.com@evil.example/x.png",
        "https://evil.example#@files.slack.com/x.png",
        "https://evil.example?@files.slack.com/x.png",
        "https://evil.example\\@files.slack.com/x.png",  # urlsplit and aiohttp disagree
        "https://user:secret@files.slack.com/x.png",  # file hosts never take credentials
    ],
)
async def test_urls_off_the_allowed_hosts_are_refused(url: str) -> None:
    media = MediaFetcher(allowed_hosts=["files.slack.com"], max_bytes=CAP)
    try:
        assert not media.allowed(url)
        error = await refused(media, url)
        assert "not on a host I fetch from" in error.message
    finally:
        await media.aclose()


hosts = st.sampled_from(["files.slack.com", "cdn.discordapp.com", "evil.example", "127.0.0.1"])
tricks = st.sampled_from(["", "@", "#@", "?@", ".", ":443", "%2F@", "\\@", "/@", " @"])


@settings(max_examples=300)
@given(first=hosts, trick=tricks, second=hosts, scheme=st.sampled_from(["https", "http"]))
def test_an_allowed_url_names_only_an_allowed_host(
    first: str, trick: str, second: str, scheme: str
) -> None:
    import yarl

    url = f"{scheme}://{first}{trick}{second}/x.png"
    media = MediaFetcher(allowed_hosts=["files.slack.com", "cdn.discordapp.com"], max_bytes=CAP)
    if not media.allowed(url):
        return
    # What aiohttp would connect to must be an allowed host too.
    try:
        target = yarl.URL(url)
    except ValueError:
        return  # aiohttp cannot even form the request (see the test below)
    assert target.host in ("files.slack.com", "cdn.discordapp.com"), url
    assert target.scheme == "https"


async def test_a_url_aiohttp_reads_differently_is_refused_as_off_host_before_any_request() -> None:
    # urlsplit takes the host after the backslash, aiohttp will not form the request at all:
    # the user is told the file is not on a host falbot fetches from, not that it is down.
    media = MediaFetcher(allowed_hosts=["files.slack.com"], max_bytes=CAP)
    try:
        error = await refused(media, "https://evil.example\\@files.slack.com/x.png")
        assert "not on a host I fetch from" in error.message
    finally:
        await media.aclose()
