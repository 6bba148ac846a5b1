"""Images people point the bot at: found in a message or a thread, fetched with the bot token."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Any
from urllib.parse import urlsplit

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.media_fetch import MediaFetcher
from core.errors import invalid
from core.jobs import InputImage

log = logging.getLogger(__name__)

SlackFile = dict[str, Any]
# Slack's own private file hosts: the only places the bot token is ever sent.
TOKEN_HOSTS = ("files.slack.com", "files.slack-gov.com")
_NO_IMAGE_HINT = (
    "Mention me in a thread whose first message has an image, or attach an image to the mention."
)


class SlackFiles:
    def __init__(
        self,
        client: AsyncWebClient,
        fetcher: MediaFetcher,
        *,
        bot_token: str,
        token_hosts: Collection[str] = TOKEN_HOSTS,
    ) -> None:
        self._client = client
        self._fetcher = fetcher
        self._token = bot_token
        self._token_hosts = frozenset(h.lower() for h in token_hosts)

    @staticmethod
    def images(files: Sequence[SlackFile]) -> list[SlackFile]:
        """The image files among `files`; a message with files but no image is a clear error."""
        usable = [f for f in files if f.get("url_private_download") or f.get("url_private")]
        images = [f for f in usable if str(f.get("mimetype", "")).startswith("image/")]
        if usable and not images:
            name = str(usable[0].get("name") or "That file")[:80]
            kind = str(usable[0].get("pretty_type") or usable[0].get("filetype") or "file")
            raise invalid(
                f"`{name}` is a {kind}, not an image.",
                "Use a PNG, JPEG, WebP or GIF image.",
            )
        return images

    async def described(self, files: Sequence[SlackFile]) -> list[SlackFile]:
        """`files` with their download URLs: a file given by id only (as a modal's file input
        may give it) is looked up with `files.info`."""
        out = []
        for f in files:
            if f.get("url_private_download") or f.get("url_private") or not f.get("id"):
                out.append(f)
                continue
            try:
                resp = await self._client.files_info(file=str(f["id"]))
            except SlackApiError as exc:
                log.warning("files.info failed: %s", exc.response.get("error"))
                raise invalid(
                    "I could not read the file you uploaded.", "Upload it again and retry."
                ) from None
            out.append(dict(resp.get("file") or {}))
        return out

    async def in_thread(self, channel: str, thread_ts: str, *, before: str) -> list[SlackFile]:
        """The images of the thread's parent, or else of the latest earlier reply with some."""
        try:
            resp = await self._client.conversations_replies(
                channel=channel, ts=thread_ts, limit=200
            )
        except SlackApiError as exc:
            log.warning("conversations.replies failed: %s", exc.response.get("error"))
            raise invalid(
                "I could not read this thread.",
                "Invite me to the channel (/invite @falbot) and try again.",
            ) from None
        messages: list[dict[str, Any]] = list(resp.get("messages") or [])
        if not messages:
            return []
        parent, replies = messages[0], messages[1:]
        if parent.get("files"):
            return self.images(parent["files"])
        earlier = [m for m in replies if m.get("files") and _order(m.get("ts")) < _order(before)]
        return self.images(earlier[-1]["files"]) if earlier else []

    async def fetch(self, files: Sequence[SlackFile], *, limit: int) -> tuple[InputImage, ...]:
        """Download and validate up to `limit` images (type, size, Pillow checks)."""
        if not files:
            raise invalid("I found no image to work on.", _NO_IMAGE_HINT)
        images, budget = [], self._fetcher.request_budget()
        for f in files[: max(1, limit)]:
            url = str(f.get("url_private_download") or f.get("url_private"))
            images.append(await self._fetcher.fetch_image(url, headers=self._auth, budget=budget))
        return tuple(images)

    def _auth(self, url: str) -> dict[str, str]:
        """The bot token for Slack's own file host only: asked again at each redirect hop."""
        parts = urlsplit(url)
        hosts = {(parts.hostname or "").lower(), parts.netloc.lower()}
        if hosts & self._token_hosts:
            return {"Authorization": f"Bearer {self._token}"}
        return {}


def _order(ts: object) -> tuple[int, int]:
    """Slack timestamps (`1700000000.000123`) in time order."""
    whole, _, frac = str(ts or "0").partition(".")
    try:
        return (int(whole or 0), int(frac or 0))
    except ValueError:
        return (0, 0)
