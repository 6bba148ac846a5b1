"""The `FalGateway` on fal's official client, `fal_client.AsyncClient`.

Submit, status, cancel and upload go through fal-client itself. Watching uses fal's status
stream (Server-Sent Events) on fal-client's own authenticated HTTP client, so a 20 s job costs
three requests (submit, stream, result) instead of fal-client's poll every 0.1 s; when the stream
is refused it falls back to polling that starts at 0.5 s and slows to 5 s. The result is fetched
directly from the request's response URL (fal-client's `result()` polls the status first).

Every failure leaves as a `BotError` (see `errors.classify`). The fal key is only ever in
fal-client's Authorization header: no message or log line here contains it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing
from typing import Any

import httpx
from fal_client import AsyncClient, AsyncRequestHandle, FalClientHTTPError

from adapters.fal.answers import (
    RETRY_HINT,
    http_error,
    refused,
    response_error,
    transport_error,
    unreadable,
    worth_retrying,
)
from adapters.fal.attempts import RetryRefused, attempt_budget, install_attempt_hooks
from adapters.fal.cookies import extract_only_when_set, inner_client
from adapters.fal.downloads import backoff, download
from adapters.fal.errors import classify
from adapters.fal.outputs import parse_output
from adapters.fal.statuses import sse_data, status_from_client, status_from_json
from core.errors import BotError, ErrorCode, invalid
from core.jobs import JobKind, Output
from core.ports import FalStatus

log = logging.getLogger(__name__)

_IDEMPOTENT_ATTEMPTS = 4  # status, cancel: fal-client's own retries, bounded
_SUBMIT_ATTEMPTS = 3  # resent only after fal said 408/409/429 (nothing was queued)
# Private mode: fal is asked not to keep the request's JSON inputs and outputs (kept 30 days
# otherwise) and to delete its output files after a day (falbot has delivered them long before;
# a file too large for the chat is linked, and the link works that long). fal documents both
# headers at https://docs.fal.ai/documentation/model-apis/media-expiration ("Data Retention &
# Storage") and https://fal.ai/docs/documentation/model-apis/inference/payloads.
PRIVATE_HEADERS = {
    "X-Fal-Store-IO": "0",
    "X-Fal-Object-Lifecycle-Preference": json.dumps({"expiration_duration_seconds": 86400}),
}
_STREAM_FAILURES = 3  # consecutive stream failures before polling for the rest of a watch
_POLL_FAILURES = 3  # consecutive failed polls a watch rides out
_STREAM_END_WAIT = 0.05  # seconds a completed status stream is given to end

RequestHook = Callable[[httpx.Request], Awaitable[None]]
ResponseHook = Callable[[httpx.Response], Awaitable[None]]


class _NoStream(Exception):
    """fal answered the status stream with something other than an event stream."""


class FalClientGateway:
    """fal's queue, storage and CDN through fal-client; see the module docstring."""

    def __init__(
        self,
        *,
        key: str,
        timeout: float = 60.0,
        stream_idle_timeout: float = 120.0,
        poll_interval: tuple[float, float] = (0.5, 5.0),
        use_stream: bool = True,
        max_streams: int = 64,
        retry_delay: float = 0.2,
    ) -> None:
        if not key:
            raise ValueError("a fal key is needed")
        self._client = AsyncClient(key=key, default_timeout=timeout)
        self._timeout = timeout
        self._stream_timeout = httpx.Timeout(timeout, read=stream_idle_timeout)
        self._poll_min, self._poll_max = poll_interval
        self._use_stream = use_stream
        # fal-client's HTTP client pools 100 connections; leave room for everything else.
        self._max_streams = max_streams
        self._open_streams = 0
        self._retry_delay = retry_delay
        # Outputs are public CDN files: fetched without fal's Authorization header.
        self._downloads = httpx.AsyncClient(timeout=timeout, follow_redirects=True, max_redirects=5)
        extract_only_when_set(self._downloads)
        self._http: httpx.AsyncClient | None = None
        self._observers: list[tuple[RequestHook, ResponseHook]] = []

    def observe_http(self, *, request: RequestHook, response: ResponseHook) -> None:
        """Also call these httpx event hooks on every request to fal's queue and on every output
        download (for metrics; they must not raise). fal-client's own uploads are not seen."""
        self._observers.append((request, response))
        for client in (self._downloads, self._http):
            if client is not None:
                _add_observer(client, request, response)

    async def aclose(self) -> None:
        """Close fal-client's HTTP client and ours."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        await self._downloads.aclose()

    # -- queue -----------------------------------------------------------------------------

    async def submit(
        self,
        endpoint: str,
        arguments: Mapping[str, Any],
        *,
        webhook_url: str | None = None,
        private: bool = False,
    ) -> str:
        """Queue a request; sent once unless fal refused it outright (so never queued twice).
        `private`: with `PRIVATE_HEADERS`, so fal keeps neither its payloads nor its files."""
        await self._handle(endpoint, "-")
        try:
            with attempt_budget(_SUBMIT_ATTEMPTS, only_after_refusal=True) as budget:
                handle = await self._client.submit(
                    endpoint,
                    dict(arguments),
                    webhook_url=webhook_url,
                    headers=dict(PRIVATE_HEADERS) if private else {},
                )
        except RetryRefused as exc:
            if exc.answered:
                raise classify(exc.last_status, None, None) from None
            raise BotError(
                ErrorCode.PROVIDER_UNAVAILABLE,
                "fal did not answer the request in time; it may or may not have been queued.",
                hint=RETRY_HINT,
            ) from None
        except FalClientHTTPError as exc:
            raise http_error(exc) from None
        except httpx.HTTPError as exc:
            raise transport_error(exc, "submit") from None
        except (KeyError, ValueError) as exc:
            raise unreadable("submit", exc) from None
        log.info(
            "fal submit %s: request %s (%d attempt(s))",
            endpoint,
            handle.request_id,
            budget.attempts,
        )
        return handle.request_id

    async def status(self, endpoint: str, request_id: str) -> FalStatus:
        """One status, with logs."""
        await self._handle(endpoint, request_id)
        try:
            with attempt_budget(_IDEMPOTENT_ATTEMPTS):
                raw = await self._client.status(endpoint, request_id, with_logs=True)
            return status_from_client(raw)
        except RetryRefused as exc:
            raise refused(exc, request_id) from None
        except FalClientHTTPError as exc:
            raise http_error(exc, request_id) from None
        except httpx.HTTPError as exc:
            raise transport_error(exc, "status", request_id) from None
        except (KeyError, ValueError) as exc:
            raise unreadable("status", exc, request_id) from None

    async def watch(self, endpoint: str, request_id: str) -> AsyncGenerator[FalStatus, None]:
        """Statuses as they change, ending with `completed`.

        The status stream first; a stream that drops is opened again, one that is refused (or
        keeps failing without news) gives way to adaptive polling, and so does every watch past
        `max_streams` open streams (each holds a connection). Close the iterator (`aclosing`)
        when leaving early.
        """
        handle = await self._handle(endpoint, request_id)
        last: FalStatus | None = None
        failures = 0 if self._use_stream else _STREAM_FAILURES
        if self._open_streams >= self._max_streams:
            failures = _STREAM_FAILURES
        while failures < _STREAM_FAILURES:
            final: FalStatus | None = None
            self._open_streams += 1
            try:
                async with aclosing(self._stream(handle)) as events:
                    async for status in events:
                        if status.state == "completed":
                            final = status
                            break
                        if status != last:
                            failures = 0  # news: the stream works
                            last = status
                            yield status
                if final is None:
                    failures += 1
                    log.info("fal status stream of %s closed early; reopening", request_id)
            except _NoStream as exc:
                log.info("fal status stream of %s refused (%s); polling", request_id, exc)
                failures = _STREAM_FAILURES
            except httpx.ReadTimeout:
                log.debug("fal status stream of %s idle; reopening", request_id)
            except (httpx.HTTPError, ValueError) as exc:
                failures += 1
                log.info("fal status stream of %s failed (%s)", request_id, type(exc).__name__)
            finally:
                self._open_streams -= 1
            if final is not None:
                # Yielded with the stream closed: a caller that stops here leaves nothing open.
                yield final
                return
            if 1 < failures < _STREAM_FAILURES:
                await asyncio.sleep(self._poll_min * (failures - 1))
        async for status in self._poll(endpoint, request_id, last):
            yield status

    async def result(self, endpoint: str, request_id: str) -> dict[str, Any]:
        """The output of a completed request, or its failure as a `BotError`."""
        handle = await self._handle(endpoint, request_id)
        response = await self._get_with_retries(handle.client, handle.response_url, request_id)
        if response.status_code != 200:
            raise response_error(response, request_id)
        try:
            data = response.json()
        except ValueError as exc:
            raise unreadable("result", exc, request_id) from None
        if not isinstance(data, dict):
            raise unreadable("result", TypeError(type(data).__name__), request_id)
        return data

    def read_output(
        self, kind: JobKind, data: Mapping[str, Any]
    ) -> tuple[tuple[Output, ...], int | None]:
        return parse_output(kind, data)

    async def cancel(self, endpoint: str, request_id: str) -> bool:
        """True when fal took the cancellation; False when the request had already completed."""
        await self._handle(endpoint, request_id)
        try:
            with attempt_budget(_IDEMPOTENT_ATTEMPTS):
                await self._client.cancel(endpoint, request_id)
        except RetryRefused as exc:
            raise refused(exc, request_id) from None
        except FalClientHTTPError as exc:
            if exc.status_code == 400 and "ALREADY_COMPLETED" in exc.response.text:
                return False
            raise http_error(exc, request_id) from None
        except httpx.HTTPError as exc:
            raise transport_error(exc, "cancel", request_id) from None
        log.info("fal cancel of %s requested", request_id)
        return True

    # -- storage ---------------------------------------------------------------------------

    async def upload(self, data: bytes, content_type: str) -> str:
        """Put `data` in fal storage (CDN token flow, initiate+PUT as fallback); its URL."""
        await self._handle("fal-ai/storage", "-")
        try:
            async with asyncio.timeout(self._timeout):
                with attempt_budget(_IDEMPOTENT_ATTEMPTS):
                    return await self._client.upload(data, content_type)
        except TimeoutError:
            raise BotError(
                ErrorCode.TIMEOUT, "Uploading the image to fal took too long.", hint=RETRY_HINT
            ) from None
        except (RetryRefused, FalClientHTTPError, httpx.HTTPError, KeyError, ValueError) as exc:
            log.warning("fal upload failed: %s", type(exc).__name__)
            raise BotError(
                ErrorCode.PROVIDER_UNAVAILABLE,
                "I could not upload the image to fal.",
                hint=RETRY_HINT,
            ) from None

    async def download(self, url: str, *, max_bytes: int) -> bytes:
        """An output file, read while streaming; `invalid_input` once it passes `max_bytes`."""
        return await download(
            self._downloads,
            url,
            max_bytes=max_bytes,
            attempts=_IDEMPOTENT_ATTEMPTS,
            retry_delay=self._retry_delay,
        )

    # -- helpers ---------------------------------------------------------------------------

    async def _handle(self, endpoint: str, request_id: str) -> AsyncRequestHandle:
        """fal-client's handle for a request (no network), with our hooks on its client."""
        try:
            handle = await self._client.get_handle(endpoint, request_id)
        except ValueError:
            raise invalid(f"`{endpoint[:80]}` is not a fal endpoint id.") from None
        if self._http is None:
            self._http = handle.client
            install_attempt_hooks(handle.client)
            for client in (handle.client, inner_client(handle.client)):
                if client is not None:
                    extract_only_when_set(client)
            for on_request, on_response in self._observers:
                _add_observer(handle.client, on_request, on_response)
        return handle

    async def _stream(self, handle: AsyncRequestHandle) -> AsyncGenerator[FalStatus, None]:
        async with handle.client.stream(
            "GET",
            handle.status_url + "/stream",
            params={"logs": "1"},
            headers={"Accept": "text/event-stream"},
            timeout=self._stream_timeout,
        ) as response:
            kind = response.headers.get("content-type", "")
            if response.status_code != 200 or not kind.startswith("text/event-stream"):
                raise _NoStream(f"HTTP {response.status_code}, {kind or 'no content type'}")
            async with aclosing(sse_data(response.aiter_lines())) as events:
                async for data in events:
                    status = status_from_json(json.loads(data))
                    if status.state == "completed":
                        await _read_to_end(events)
                    yield status

    async def _poll(
        self, endpoint: str, request_id: str, last: FalStatus | None
    ) -> AsyncGenerator[FalStatus, None]:
        delay = self._poll_min
        failures = 0
        while True:
            try:
                status = await self.status(endpoint, request_id)
                failures = 0
            except BotError as exc:
                failures += 1
                retryable = exc.code in (ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.TIMEOUT)
                if not retryable or failures >= _POLL_FAILURES:
                    raise
                log.info("fal status of %s failed (%s); polling on", request_id, exc.code)
            else:
                if status != last:
                    last = status
                    delay = self._poll_min
                    yield status
                if status.state == "completed":
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 1.6, self._poll_max)

    async def _get_with_retries(
        self, http: httpx.AsyncClient, url: str, request_id: str
    ) -> httpx.Response:
        """GET an idempotent URL, retrying transport errors, 408/429 and ingress 5xx."""
        for attempt in range(1, _IDEMPOTENT_ATTEMPTS + 1):
            last = attempt == _IDEMPOTENT_ATTEMPTS
            try:
                response = await http.get(url, timeout=self._timeout)
            except httpx.HTTPError as exc:
                if last:
                    raise transport_error(exc, "result", request_id) from None
            else:
                if last or not worth_retrying(response):
                    return response
            await self._backoff(attempt)
        raise AssertionError("unreachable")

    async def _backoff(self, attempt: int) -> None:
        await backoff(attempt, self._retry_delay)


def _add_observer(client: httpx.AsyncClient, request: RequestHook, response: ResponseHook) -> None:
    # After the attempt budget's request hook (it may refuse to send), before its response hook
    # (it may raise): an observer sees exactly the requests sent and the answers received.
    hooks = client.event_hooks
    client.event_hooks = {
        "request": [*hooks["request"], request],
        "response": [response, *hooks["response"]],
    }


async def _read_to_end(events: AsyncGenerator[str, None]) -> None:
    """Read a completed status stream to its end: a response read to its end leaves its
    connection in the pool for the result's request, where one left half-read is closed and
    the next request connects again (a TLS handshake, at fal). The stream ends right after
    its completed event (the simulator's does); one that does not end within
    `_STREAM_END_WAIT` is closed as before."""
    try:
        async with asyncio.timeout(_STREAM_END_WAIT):
            async for _ in events:
                pass
    except (TimeoutError, httpx.HTTPError, ValueError):
        pass  # not ended in time, or broken: closed as before
