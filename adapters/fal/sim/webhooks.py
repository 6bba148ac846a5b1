"""The simulator's webhooks: when a request submitted with `fal_webhook` completes, POST fal's
webhook body to that URL, signed with ED25519 as fal signs it (fal's webhook docs), and serve
the public key as a JWKS.

Test controls: `drop` (lose every webhook: falbot must fall back to watching the status),
`repeat` (send each one this many times: replays), `delay` (seconds before sending).
Records: `deliveries` (url, body bytes, headers, the answer's status), waited on with `wait_for`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from adapters.fal.sim.state import SimRequest

log = logging.getLogger(__name__)

USER_ID = "sim-user-7d1c"
KEY_ID = "sim-webhook-key-1"


@dataclass(frozen=True)
class Delivery:
    url: str
    body: bytes
    headers: Mapping[str, str]
    status: int | None  # None when the POST itself failed


def webhook_body(req: SimRequest) -> dict[str, Any]:
    """What fal POSTs when `req` completes: its output, or its error and the error body."""
    body: dict[str, Any] = {"request_id": req.id, "gateway_request_id": req.id}
    if req.fault is None:
        body |= {"status": "OK", "payload": req.output}
    else:
        body |= {
            "status": "ERROR",
            "error": f"Invalid status code: {req.fault.status}",
            "payload": req.fault.body(),
        }
    return body


def sign(
    key: Ed25519PrivateKey, *, request_id: str, user_id: str, timestamp: str, body: bytes
) -> str:
    """fal's signature: hex ED25519 over `request_id\\nuser_id\\ntimestamp\\nsha256_hex(body)`."""
    digest = hashlib.sha256(body).hexdigest()
    message = "\n".join((request_id, user_id, timestamp, digest)).encode()
    return key.sign(message).hex()


def signed_headers(
    key: Ed25519PrivateKey,
    *,
    request_id: str,
    body: bytes,
    timestamp: int | None = None,
    user_id: str = USER_ID,
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": "application/json",
        "X-Fal-Webhook-Request-Id": request_id,
        "X-Fal-Webhook-User-Id": user_id,
        "X-Fal-Webhook-Timestamp": ts,
        "X-Fal-Webhook-Signature": sign(
            key, request_id=request_id, user_id=user_id, timestamp=ts, body=body
        ),
    }


def jwk(key: Ed25519PrivateKey, kid: str = KEY_ID) -> dict[str, str]:
    """The public half of `key` as a JWK (RFC 8037: OKP, Ed25519, base64url x)."""
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig", "alg": "EdDSA"}


OnCompleted = Callable[[SimRequest], Coroutine[Any, Any, None]]


class SimWebhooks:
    def __init__(self, on_completed: list[OnCompleted]) -> None:
        """Sends the webhooks of requests completing from now on (`on_completed`: where the
        simulator calls back as a request completes)."""
        self.key = Ed25519PrivateKey.generate()
        self.drop = False
        self.repeat = 1
        self.delay = 0.0
        self.deliveries: list[Delivery] = []
        self.jwks_fetches = 0
        self._session: aiohttp.ClientSession | None = None
        self._changed = asyncio.Condition()
        on_completed.append(self._on_completed)

    def jwks(self) -> dict[str, Any]:
        self.jwks_fetches += 1
        return {"keys": [jwk(self.key)]}

    async def wait_for(self, count: int, *, within: float = 5.0) -> list[Delivery]:
        """The first `count` deliveries, waiting for them."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: len(self.deliveries) >= count)
        return self.deliveries[:count]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _on_completed(self, req: SimRequest) -> None:
        if req.webhook_url is None or self.drop:
            return
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        body = json.dumps(webhook_body(req)).encode()
        headers = signed_headers(self.key, request_id=req.id, body=body)
        for _ in range(self.repeat):
            await self._post(req.webhook_url, body, headers)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        status: int | None
        try:
            async with self._session.post(url, data=body, headers=headers) as resp:
                status = resp.status
        except aiohttp.ClientError as exc:
            log.info("webhook to %s failed: %s", url, type(exc).__name__)
            status = None
        async with self._changed:
            self.deliveries.append(Delivery(url, body, headers, status))
            self._changed.notify_all()
