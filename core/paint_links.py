"""The region painter's links: a random token, kept in the store only as its SHA-256 (in
bot_state, under `paint:<hash>`) with what it was made for; and the words for one that is gone.
See `core.painting`."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from core.errors import BotError, ErrorCode
from core.jobs import Actor
from core.ports import Store

LINK_LIFETIME = timedelta(minutes=15)
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # 32 bytes, URL-safe base64
KEY = "paint:"
_NEW_LINK = "Press Edit region under the image again for a new link."

Gone = Literal["unknown", "expired", "used"]
_GONE_TEXT: dict[Gone, str] = {
    "unknown": "This painting link is not valid.",
    "expired": "This painting link has expired (links last 15 minutes).",
    "used": "This painting link has already been used.",
}


class LinkGone(BotError):
    """A link that is unknown, lapsed or spent; `reason` says which."""

    def __init__(self, reason: Gone) -> None:
        super().__init__(ErrorCode.NOT_FOUND, _GONE_TEXT[reason], hint=_NEW_LINK)
        self.reason: Gone = reason


@dataclass(frozen=True)
class PaintLink:
    url: str
    expires_at: datetime


@dataclass
class LinkRecord:
    """What a link's hash is stored with (as JSON in the store's bot_state)."""

    job: str
    image: int
    actor: dict[str, Any]
    nsfw: bool
    spoilers: bool
    place: str  # the channel's name as people know it ("#general")
    reply: dict[str, Any]  # where the result is posted: the platform's own reply_ref
    image_url: str
    content_type: str
    width: int
    height: int
    expires: str
    tries: int = 0
    child: str | None = None

    @property
    def expires_at(self) -> datetime:
        return datetime.fromisoformat(self.expires)

    def who(self) -> Actor:
        a = self.actor
        return Actor(
            str(a["platform"]),
            str(a["workspace_id"]),
            str(a["user_id"]),
            tuple(a.get("roles") or ()),
            bool(a.get("is_admin")),
            str(a.get("name") or ""),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def digest(token: str) -> str:
    """What a token is stored and logged by (logs show its first 8 hex digits)."""
    return hashlib.sha256(token.encode()).hexdigest()


async def load(store: Store, token: str) -> tuple[str, LinkRecord]:
    """The token's digest and record; `LinkGone("unknown")` for a token never made."""
    if not TOKEN.fullmatch(token):
        raise LinkGone("unknown")
    key = digest(token)
    raw = await store.state_value(KEY + key)
    if not raw:
        raise LinkGone("unknown")
    return key, LinkRecord(**json.loads(raw))


async def save(store: Store, key: str, record: LinkRecord) -> None:
    await store.set_state_value(KEY + key, record.to_json())


def link_text(link: PaintLink, *, image: int | None, now: datetime) -> str:
    """The private answer to Edit region, the same on every platform."""
    which = "this image" if image is None else f"image {image + 1}"
    minutes = max(1, round((link.expires_at - now).total_seconds() / 60))
    return (
        f"🖌️ Paint the part of {which} to change, say what goes there, and submit: {link.url}\n"
        f"This link is yours alone, works once, and lapses in {minutes} minutes. "
        "The result is posted here."
    )
