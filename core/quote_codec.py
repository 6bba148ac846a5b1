"""A pending quote's command as JSON, so a Confirm pressed after a restart (or in another
process) starts exactly what was quoted. Images are kept whole (base64) until the quote ends."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping
from enum import Enum
from typing import Any, cast

from core import commands
from core.commands import Command
from core.errors import internal_error
from core.jobs import Channel, InputImage, JobKind

_IMAGE = "__image__"


def encode_command(command: Command) -> dict[str, Any]:
    """Any command of `core.commands` (a dataclass of plain values, enums and images)."""
    fields = {f.name: _encode(getattr(command, f.name)) for f in dataclasses.fields(command)}
    return {"type": type(command).__name__, "fields": fields}


def decode_command(data: Mapping[str, Any]) -> Command:
    cls = getattr(commands, str(data.get("type")), None)
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise internal_error()
    names = {f.name for f in dataclasses.fields(cls)}
    fields = {k: _decode(k, v) for k, v in dict(data.get("fields") or {}).items() if k in names}
    return cast(Command, cls(**fields))


def encode_channel(channel: Channel) -> dict[str, Any]:
    return dataclasses.asdict(channel)


def decode_channel(data: Mapping[str, Any]) -> Channel:
    return Channel(nsfw=bool(data.get("nsfw")), spoilers=bool(data.get("spoilers", True)))


def _encode(value: Any) -> Any:
    if isinstance(value, InputImage):
        data = None if value.data is None else base64.b64encode(value.data).decode()
        return {
            _IMAGE: True,
            "content_type": value.content_type,
            "data": data,
            "url": value.url,
            "width": value.width,
            "height": value.height,
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


def _decode(name: str, value: Any) -> Any:
    if name == "kind" and isinstance(value, str):
        return JobKind(value)
    if isinstance(value, list):
        return tuple(_decode("", v) for v in value)
    if isinstance(value, Mapping) and value.get(_IMAGE):
        data = value.get("data")
        return InputImage(
            content_type=str(value["content_type"]),
            data=None if data is None else base64.b64decode(data),
            url=value.get("url"),
            width=int(value.get("width") or 0),
            height=int(value.get("height") or 0),
        )
    if isinstance(value, Mapping):
        return {k: _decode("", v) for k, v in value.items()}
    return value
