"""What the image-checking processes run: `core.media`'s header read and decode.

Processes, not threads: Pillow holds the GIL for long stretches of a decode (the WebP decoder
copies each finished 40 MP frame out under it, 0.2-0.3 s), so a decode in a thread still stalls
the event loop. A refusal comes back as plain data, since a `BotError` does not survive
pickling; this module imports nothing else, to keep the workers small."""

from __future__ import annotations

from core import media
from core.errors import BotError


def read_header(data: bytes, max_bytes: int) -> media.ImageHeader | dict[str, object]:
    """The image's header, or the refusal as `BotError.to_dict`."""
    try:
        return media.read_header(data, max_bytes=max_bytes)
    except BotError as error:
        return error.to_dict()


def decode(data: bytes, header: media.ImageHeader) -> dict[str, object] | None:
    """None when every pixel decoded, else the refusal as `BotError.to_dict`."""
    try:
        media.decode(data, header)
    except BotError as error:
        return error.to_dict()
    return None
