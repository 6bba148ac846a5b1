"""Pictures the simulator hands out: PNGs drawn with Pillow, distinct for each seed."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import random
from urllib.parse import unquote_to_bytes

from PIL import Image, ImageDraw

MAX_SIDE = 4096


def seed_of(*parts: object) -> int:
    """A stable 32-bit number from the parts (prompt, seed, request id, index)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:4], "big")


def draw_png(width: int, height: int, seed: int, *, base: bytes | None = None) -> bytes:
    """A `width`×`height` PNG: `base` (an input image) resized and tinted, or a fresh picture.

    Shapes and colours come from `seed`, so two requests never look alike.
    """
    rng = random.Random(seed)
    color = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    if base is not None:
        with Image.open(io.BytesIO(base)) as src:
            img = src.convert("RGB").resize((width, height))
        img = Image.blend(img, Image.new("RGB", (width, height), color), 0.25)
    else:
        img = Image.new("RGB", (width, height), color)
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1 = min(width, x0 + rng.randrange(1, max(2, width // 2)))
        y1 = min(height, y0 + rng.randrange(1, max(2, height // 2)))
        fill = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x1, y1), fill=fill)
        else:
            draw.ellipse((x0, y0, x1, y1), fill=fill)
    out = io.BytesIO()
    img.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def image_size(data: bytes) -> tuple[int, int, str]:
    """Width, height and content type of an image; ValueError if it is not one."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
            fmt = img.format or ""
            width, height = img.size
    except Exception as exc:  # Pillow raises many kinds for bad data
        raise ValueError("not a readable image") from exc
    return width, height, Image.MIME.get(fmt, "application/octet-stream")


def parse_data_uri(uri: str) -> tuple[str, bytes]:
    """`data:<type>[;base64],<data>` → (content type, bytes); ValueError if malformed."""
    if not uri.startswith("data:") or "," not in uri:
        raise ValueError("not a data URI")
    head, _, payload = uri[5:].partition(",")
    params = head.split(";")
    content_type = params[0] or "text/plain"
    if "base64" in params[1:]:
        try:
            return content_type, base64.b64decode(payload, validate=True)
        except binascii.Error as exc:
            raise ValueError("bad base64 in data URI") from exc
    return content_type, unquote_to_bytes(payload)


def cap(width: int, height: int, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """Scale down to fit `max_side`, keeping the aspect ratio."""
    largest = max(width, height)
    if largest <= max_side:
        return width, height
    return max(1, width * max_side // largest), max(1, height * max_side // largest)
