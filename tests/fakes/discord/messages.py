"""How the fake turns a message body into a stored message, checking Discord's limits."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tests.fakes.discord import payloads as p
from tests.fakes.discord.recorder import UploadedFile

EPHEMERAL = 1 << 6
LOADING = 1 << 7
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_DESCRIPTION = 4096
MAX_EMBED_TOTAL = 6000
MAX_ATTACHMENTS = 10
MAX_ROWS = 5
MAX_BUTTONS_PER_ROW = 5
MAX_CUSTOM_ID = 100
MAX_LABEL = 80


class ApiError(Exception):
    """An error answer in Discord's shape: `{"message", "code"}` (and `errors` for form bodies)."""

    def __init__(
        self, status: int, code: int, message: str, errors: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message, "code": code}
        if errors:
            self.body["errors"] = dict(errors)


def form_error(field: str, message: str) -> ApiError:
    return ApiError(
        400,
        50035,
        "Invalid Form Body",
        {field: {"_errors": [{"code": "BASE_TYPE_BAD_LENGTH", "message": message}]}},
    )


def check_body(body: Mapping[str, Any], files: Sequence[UploadedFile], size_limit: int) -> None:
    """Raise `ApiError` where Discord would refuse the message body."""
    content = body.get("content")
    if isinstance(content, str) and len(content) > MAX_CONTENT:
        raise form_error("content", f"Must be {MAX_CONTENT} or fewer in length.")
    embeds = body.get("embeds") or []
    if len(embeds) > MAX_EMBEDS:
        raise form_error("embeds", f"Must be {MAX_EMBEDS} or fewer in length.")
    total = 0
    for embed in embeds:
        description = embed.get("description") or ""
        if len(description) > MAX_EMBED_DESCRIPTION:
            raise form_error("embeds.0.description", "Must be 4096 or fewer in length.")
        total += len(description) + len(embed.get("title") or "")
        total += len((embed.get("footer") or {}).get("text") or "")
        for fld in embed.get("fields") or []:
            total += len(fld.get("name") or "") + len(fld.get("value") or "")
    if total > MAX_EMBED_TOTAL:
        raise form_error("embeds", "Embed size exceeds maximum size of 6000")
    rows = body.get("components") or []
    if len(rows) > MAX_ROWS:
        raise form_error("components", f"Must be {MAX_ROWS} or fewer in length.")
    for row in rows:
        children = row.get("components") or []
        if len(children) > MAX_BUTTONS_PER_ROW:
            raise form_error("components.0.components", "Must be 5 or fewer in length.")
        for child in children:
            if len(child.get("custom_id") or "") > MAX_CUSTOM_ID:
                raise form_error("components.0.components.0.custom_id", "Must be 100 or fewer.")
            if len(child.get("label") or "") > MAX_LABEL:
                raise form_error("components.0.components.0.label", "Must be 80 or fewer.")
    if len(files) > MAX_ATTACHMENTS:
        raise form_error("files", f"Must be {MAX_ATTACHMENTS} or fewer in length.")
    for upload in files:
        if len(upload.data) > size_limit:
            raise ApiError(413, 40005, "Request entity too large")


def apply_body(
    message: dict[str, Any],
    body: Mapping[str, Any],
    files: Sequence[UploadedFile],
    host: Callable[[UploadedFile], dict[str, Any]],
    *,
    editing: bool,
) -> None:
    """Create or edit `message` in place from a message body and its uploaded files."""
    for key in ("content", "embeds", "components"):
        if key in body:
            value = body[key]
            message[key] = value if value is not None else ("" if key == "content" else [])
    if "flags" in body and not editing:
        message["flags"] = int(body["flags"] or 0)
    uploads = {u.field: u for u in files}
    if "attachments" in body and body["attachments"] is not None:
        kept = {str(a["id"]): a for a in message.get("attachments", [])}
        result = []
        for item in body["attachments"]:
            upload = uploads.get(f"files[{item['id']}]")
            if upload is not None:
                result.append(host(upload))
            elif str(item["id"]) in kept:
                result.append(kept[str(item["id"])])
        message["attachments"] = result
    elif files:
        message["attachments"] = list(message.get("attachments", [])) + [host(u) for u in files]
    if editing:
        message["edited_timestamp"] = p.iso_now()
        message["flags"] = int(message.get("flags", 0)) & ~LOADING
