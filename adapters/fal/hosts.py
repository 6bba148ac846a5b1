"""Where fal-client sends its requests: the one place that changes its hosts.

fal-client builds its URLs from module constants of `fal_client.client`, read at call time:
`QUEUE_URL_FORMAT` (submit, status, result, cancel), `REST_URL` (storage tokens and the
initiate+PUT upload) and `CDN_URL` (the v3 CDN upload). Their defaults are https URLs built from
`FAL_QUEUE_RUN_HOST` and friends, which `fal_client.auth` reads once at import, so the
environment alone can only ever give https. Setting the constants themselves takes any base URL,
plain http on loopback included, without touching fal-client's code.

The CDN token manager copies `REST_URL` when a client first uploads, so point the hosts before
building a `FalClientGateway`.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import fal_client.client as _fal

log = logging.getLogger(__name__)

_REAL_QUEUE_URL = _fal.QUEUE_URL_FORMAT
_REAL_REST_URL = _fal.REST_URL
_REAL_CDN_URL = _fal.CDN_URL

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def point_fal_client_at(
    *, queue_url: str | None, rest_url: str | None, cdn_url: str | None
) -> None:
    """Send fal-client's queue, REST (storage) and CDN requests to these base URLs.

    None restores fal's real host for that one. https is accepted anywhere; http only on
    loopback (tests, the demo's simulator, a local proxy).
    """
    queue = _base(queue_url)
    _fal.QUEUE_URL_FORMAT = f"{queue}/" if queue else _REAL_QUEUE_URL
    rest = _base(rest_url)
    _fal.REST_URL = rest or _REAL_REST_URL
    cdn = _base(cdn_url)
    _fal.CDN_URL = cdn or _REAL_CDN_URL
    log.info(
        "fal-client hosts: queue %s, rest %s, cdn %s",
        _fal.QUEUE_URL_FORMAT,
        _fal.REST_URL,
        _fal.CDN_URL,
    )


def current_fal_hosts() -> tuple[str, str, str]:
    """(queue, rest, cdn) base URLs fal-client uses now, without trailing slashes."""
    return (_fal.QUEUE_URL_FORMAT.rstrip("/"), _fal.REST_URL, _fal.CDN_URL)


def _base(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r}: a base URL takes no query or fragment")
    if parts.scheme == "https" and parts.hostname:
        return url.rstrip("/")
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return url.rstrip("/")
    raise ValueError(f"{url!r} must be an https URL (http is allowed for loopback only)")
