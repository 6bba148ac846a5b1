"""fal's webhooks: `POST /fal/webhook`, checked, deduplicated and handed to the engine.

A webhook is believed only when its ED25519 signature verifies against one of fal's keys (the
JWKS, fetched from `FALBOT_FAL_JWKS_URL` and kept 24 h) over
`request_id\\nuser_id\\ntimestamp\\nsha256_hex(body)`, and its timestamp is within 300 s of now.
fal retries a delivery up to 10 times, so each request id is claimed once in the store: a replay
is answered 200 and changes nothing. Anything refused is answered 401 (400 when unreadable, 503
when the keys cannot be had, so that fal tries again later) and changes nothing either.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
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
MAX_BODY = 8 * 1024 * 1024
_HEADERS = ("Request-Id", "User-Id", "Timestamp", "Signature")


class WebhookRejected(Exception):
    """A webhook that is not believed. `status` is the HTTP answer it gets."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class OutcomeSink(Protocol):
    def fal_webhook(self, outcome: FalOutcome) -> bool: ...


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

    async def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """The request id of a genuine, fresh webhook; `WebhookRejected` otherwise."""
        values = [headers.get(f"X-Fal-Webhook-{name}", "").strip() for name in _HEADERS]
        if not all(values):
            raise WebhookRejected("missing signature headers")
        request_id, user_id, timestamp, signature_hex = values
        try:
            sent_at = float(timestamp)
        except ValueError:
            raise WebhookRejected("malformed timestamp") from None
        if not math.isfinite(sent_at) or abs(self._now() - sent_at) > self._tolerance:
            raise WebhookRejected("timestamp too far from now")
        try:
            signature = bytes.fromhex(signature_hex)
        except ValueError:
            raise WebhookRejected("malformed signature") from None
        message = signed_message(request_id, user_id, timestamp, body)
        if not await self._matches(signature, message):
            raise WebhookRejected("signature matches no fal key")
        return request_id

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
    """The engine's view of a webhook body (DESIGN §3)."""
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
    ) -> None:
        self._sink = sink
        self._claims = claims
        self._verifier = verifier
        self._keys = keys

    @classmethod
    def for_jwks(cls, jwks_url: str, *, sink: OutcomeSink, claims: Claims) -> FalWebhookReceiver:
        """A receiver checking signatures against the keys published at `jwks_url`."""
        keys = JwksKeys(jwks_url)
        return cls(sink=sink, claims=claims, verifier=WebhookVerifier(keys), keys=keys)

    def add_routes(self, app: web.Application, path: str = WEBHOOK_PATH) -> None:
        app.router.add_post(path, self.handle)

    async def aclose(self) -> None:
        if self._keys is not None:
            await self._keys.aclose()

    async def handle(self, request: web.Request) -> web.Response:
        try:
            body = await _read(request)
            request_id = await self._verifier.verify(request.headers, body)
            parsed = _json_object(body)
            if str(parsed.get("request_id", "")) != request_id:
                raise WebhookRejected("the body names another request")
            outcome = outcome_from(parsed, request_id)
        except WebhookRejected as exc:
            log.warning("refused a fal webhook: %s", exc.reason)
            return web.json_response({"ok": False, "error": exc.reason}, status=exc.status)
        if not await self._claims.claim(f"fal:webhook:{request_id}", datetime.now(UTC)):
            log.info("fal webhook for %s seen before; ignored", request_id)
            return web.json_response({"ok": True, "duplicate": True})
        self._sink.fal_webhook(outcome)
        log.info("fal webhook for %s taken", request_id)
        return web.json_response({"ok": True})


async def _read(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise WebhookRejected("body too large", 413)
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
