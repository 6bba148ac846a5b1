"""fal's webhooks: `POST /fal/webhook`, checked, deduplicated and handed to the engine.

A webhook is believed only when its ED25519 signature verifies against one of fal's keys (the
JWKS, fetched from `FALBOT_FAL_JWKS_URL` and kept 24 h) over
`request_id\\nuser_id\\ntimestamp\\nsha256_hex(body)`, and its timestamp is within 300 s of now.
fal retries a delivery up to 10 times, so each request id is claimed once in the store: a replay
is answered 200 and changes nothing. Anything refused is answered 401 (400 when unreadable, 503
when the keys cannot be had, so that fal tries again later) and changes nothing either.

The endpoint is public, so nothing is read before it can be judged cheaply. The signature
headers are checked first (present, well-formed, timestamp within 300 s), then fal's user id
(`FALBOT_FAL_USER_ID`, or learned from the first verified webhook of a request falbot sent),
then whether falbot waits for that request at all: another account's request is answered 200
unread, so fal stops, and nothing is kept. Only then is the body read: at most `MAX_BODY`
bytes (fal's payloads hold URLs, not files: a few KB; the cap leaves room for a 422 that echoes
inline `data:` inputs), within `BODY_DEADLINE` seconds, and at most `MAX_READING` bodies at once
(beyond that: 503 with Retry-After, and fal retries).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from adapters.fal.errors import classify
from core.ports import Claims
from core.webhooks import FalOutcome

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/fal/webhook"
TOLERANCE_S = 300.0
JWKS_TTL_S = 24 * 3600.0
MAX_BODY = 1024 * 1024
BODY_DEADLINE = 10.0  # seconds to send the whole body once its headers passed
MAX_READING = 16  # bodies read (not yet verified) at once
_HEADERS = ("Request-Id", "User-Id", "Timestamp", "Signature")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{128}")  # an ED25519 signature: 64 bytes


class WebhookRejected(Exception):
    """A webhook that is not believed. `status` is the HTTP answer it gets."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class OutcomeSink(Protocol):
    def expects_webhook(self, request_id: str) -> bool: ...

    def fal_webhook(self, outcome: FalOutcome) -> bool: ...


@dataclass(frozen=True)
class SignedHeaders:
    """fal's four webhook headers, checked for form and freshness (not yet the signature)."""

    request_id: str
    user_id: str
    timestamp: str
    signature: bytes


class JwksKeys:
    """fal's webhook keys: fetched on first use, kept `ttl` seconds; fetched again early (at
    most once per `min_refresh` s) when a signature matches none of them, for key rotation."""

    def __init__(
        self,
        url: str,
        *,
        ttl: float = JWKS_TTL_S,
        min_refresh: float = 60.0,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._ttl = ttl
        self._min_refresh = min_refresh
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._clock = clock
        self._keys: list[Ed25519PublicKey] = []
        self._fetched_at: float | None = None
        self._session: aiohttp.ClientSession | None = None
        self.fetches = 0

    async def keys(self, *, stale: bool = False) -> list[Ed25519PublicKey]:
        """The keys; with `stale`, fetched again first if the copy is old enough to."""
        now = self._clock()
        age = None if self._fetched_at is None else now - self._fetched_at
        if age is None or age >= self._ttl or (stale and age >= self._min_refresh):
            try:
                self._keys = await self._fetch()
                self._fetched_at = now
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.warning("could not fetch fal's webhook keys: %s", type(exc).__name__)
                if not self._keys:
                    raise WebhookRejected("fal's webhook keys are unavailable", 503) from None
        return list(self._keys)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _fetch(self) -> list[Ed25519PublicKey]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        self.fetches += 1
        async with self._session.get(self._url) as resp:
            if resp.status != 200:
                raise ValueError(f"JWKS answered {resp.status}")
            document = await resp.json(content_type=None)
        keys = parse_jwks(document)
        if not keys:
            raise ValueError("the JWKS holds no Ed25519 key")
        log.info("fetched %d fal webhook key(s)", len(keys))
        return keys


def parse_jwks(document: Any) -> list[Ed25519PublicKey]:
    """The Ed25519 public keys of a JWKS document; anything else in it is skipped."""
    found: list[Ed25519PublicKey] = []
    entries = document.get("keys") if isinstance(document, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("kty") != "OKP":
            continue
        if entry.get("crv") != "Ed25519" or not isinstance(entry.get("x"), str):
            continue
        try:
            raw = base64.urlsafe_b64decode(entry["x"] + "=" * (-len(entry["x"]) % 4))
            found.append(Ed25519PublicKey.from_public_bytes(raw))
        except (ValueError, binascii.Error):
            continue
    return found


def signed_message(request_id: str, user_id: str, timestamp: str, body: bytes) -> bytes:
    return "\n".join((request_id, user_id, timestamp, hashlib.sha256(body).hexdigest())).encode()


class WebhookVerifier:
    def __init__(
        self,
        keys: JwksKeys,
        *,
        tolerance: float = TOLERANCE_S,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._tolerance = tolerance
        self._now = now

    def check_headers(self, headers: Mapping[str, str]) -> SignedHeaders:
        """The signature headers, present, well-formed and fresh; `WebhookRejected` otherwise.
        Needs nothing but the headers: it runs before any of the body is read."""
        values = [headers.get(f"X-Fal-Webhook-{name}", "").strip() for name in _HEADERS]
        if not all(values):
            raise WebhookRejected("missing signature headers")
        request_id, user_id, timestamp, signature_hex = values
        if not _ID.fullmatch(request_id) or not _ID.fullmatch(user_id):
            raise WebhookRejected("malformed request or user id")
        try:
            sent_at = float(timestamp)
        except ValueError:
            raise WebhookRejected("malformed timestamp") from None
        if not math.isfinite(sent_at) or abs(self._now() - sent_at) > self._tolerance:
            raise WebhookRejected("timestamp too far from now")
        if not _SIGNATURE.fullmatch(signature_hex):
            raise WebhookRejected("malformed signature")
        return SignedHeaders(request_id, user_id, timestamp, bytes.fromhex(signature_hex))

    async def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """The request id of a genuine, fresh webhook; `WebhookRejected` otherwise."""
        return await self.verify_signed(self.check_headers(headers), body)

    async def verify_signed(self, signed: SignedHeaders, body: bytes) -> str:
        message = signed_message(signed.request_id, signed.user_id, signed.timestamp, body)
        if not await self._matches(signed.signature, message):
            raise WebhookRejected("signature matches no fal key")
        return signed.request_id

    async def _matches(self, signature: bytes, message: bytes) -> bool:
        fetches = self._keys.fetches
        if _verifies(await self._keys.keys(), signature, message):
            return True
        if self._keys.fetches != fetches:
            return False  # the keys are fresh: no use asking again
        keys = await self._keys.keys(stale=True)
        return self._keys.fetches != fetches and _verifies(keys, signature, message)


def _verifies(keys: list[Ed25519PublicKey], signature: bytes, message: bytes) -> bool:
    for key in keys:
        try:
            key.verify(signature, message)
        except InvalidSignature:
            continue
        return True
    return False


def outcome_from(body: Mapping[str, Any], request_id: str) -> FalOutcome:
    """The engine's view of a webhook body: `status` OK with the output as `payload` (absent,
    with `payload_error`, when fal could not include it), or ERROR with `error` and the error
    body as `payload`."""
    status = str(body.get("status", "")).upper()
    payload = body.get("payload")
    if status == "OK":
        if isinstance(payload, dict) and not body.get("payload_error"):
            return FalOutcome(request_id, data=payload)
        return FalOutcome(request_id)  # fal could not include it: fetch the result
    if status == "ERROR":
        code = re.search(r"\b(\d{3})\b", str(body.get("error", "")))
        detail: Any = payload.get("detail", payload) if isinstance(payload, dict) else payload
        error_type = payload.get("error_type") if isinstance(payload, dict) else None
        error = classify(
            int(code.group(1)) if code else None,
            str(error_type) if error_type else None,
            detail if detail is not None else body.get("error"),
            request_id=request_id,
        )
        return FalOutcome(request_id, error=error)
    raise WebhookRejected(f"unknown webhook status {status[:20]!r}", 400)


class FalWebhookReceiver:
    """Serves `POST /fal/webhook`: `server.add_routes(receiver.add_routes)`."""

    def __init__(
        self,
        *,
        sink: OutcomeSink,
        claims: Claims,
        verifier: WebhookVerifier,
        keys: JwksKeys | None = None,
        user_id: str | None = None,
        max_reading: int = MAX_READING,
        body_deadline: float = BODY_DEADLINE,
    ) -> None:
        self._sink = sink
        self._claims = claims
        self._verifier = verifier
        self._keys = keys
        self.user_id = user_id  # fal's user id of this account: set, or learned (see module)
        self._max_reading = max_reading
        self._reading = 0
        self._body_deadline = body_deadline

    @classmethod
    def for_jwks(
        cls, jwks_url: str, *, sink: OutcomeSink, claims: Claims, user_id: str | None = None
    ) -> FalWebhookReceiver:
        """A receiver checking signatures against the keys published at `jwks_url`."""
        keys = JwksKeys(jwks_url)
        verifier = WebhookVerifier(keys)
        return cls(sink=sink, claims=claims, verifier=verifier, keys=keys, user_id=user_id)

    def add_routes(self, app: web.Application, path: str = WEBHOOK_PATH) -> None:
        app.router.add_post(path, self.handle)

    async def aclose(self) -> None:
        if self._keys is not None:
            await self._keys.aclose()

    async def handle(self, request: web.Request) -> web.Response:
        try:
            signed = self._verifier.check_headers(request.headers)
            if self.user_id is not None and signed.user_id != self.user_id:
                raise WebhookRejected("sent for another fal account")
            if not self._sink.expects_webhook(signed.request_id):
                # Not a request falbot waits for: answered so fal stops, body never read.
                log.info("fal webhook for a request falbot does not wait for; ignored")
                return _answer({"ok": True, "ignored": True}, unread=True)
            body = await self._read_limited(request)
            request_id = await self._verifier.verify_signed(signed, body)
            parsed = _json_object(body)
            if str(parsed.get("request_id", "")) != request_id:
                raise WebhookRejected("the body names another request")
            outcome = outcome_from(parsed, request_id)
        except WebhookRejected as exc:
            log.warning("refused a fal webhook: %s", exc.reason)
            response = _answer({"ok": False, "error": exc.reason}, status=exc.status, unread=True)
            if exc.status in (429, 503):
                response.headers["Retry-After"] = "5"
            return response
        if self.user_id is None:
            self.user_id = signed.user_id  # a verified webhook of a request falbot sent
            log.info("learned fal's user id of this account from a verified webhook")
        if not await self._claims.claim(f"fal:webhook:{request_id}", datetime.now(UTC)):
            log.info("fal webhook for %s seen before; ignored", request_id)
            return web.json_response({"ok": True, "duplicate": True})
        if not self._sink.fal_webhook(outcome):
            log.info("fal webhook for %s came when falbot no longer waited; ignored", request_id)
            return web.json_response({"ok": True, "ignored": True})
        log.info("fal webhook for %s taken", request_id)
        return web.json_response({"ok": True})

    async def _read_limited(self, request: web.Request) -> bytes:
        """The body: capped, within the deadline, and only `max_reading` at once."""
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise WebhookRejected("body too large", 413)
        if self._reading >= self._max_reading:
            raise WebhookRejected("too many webhooks at once; try again shortly", 503)
        self._reading += 1
        try:
            async with asyncio.timeout(self._body_deadline):
                return await _read(request)
        except TimeoutError:
            raise WebhookRejected("the body took too long", 408) from None
        finally:
            self._reading -= 1


def _answer(body: dict[str, Any], *, status: int = 200, unread: bool) -> web.Response:
    response = web.json_response(body, status=status)
    if unread:
        response.force_close()  # what is left of the body is not waited for
    return response


async def _read(request: web.Request) -> bytes:
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > MAX_BODY:
            raise WebhookRejected("body too large", 413)
    return bytes(body)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        raise WebhookRejected("body is not JSON", 400) from None
    if not isinstance(parsed, dict):
        raise WebhookRejected("body is not a JSON object", 400)
    return parsed
