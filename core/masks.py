"""The region painter's mask, checked before anything uses it: a PNG the image's exact size, with
some of it painted and not all of it. White (painted) is repainted, black kept, as FLUX Fill
reads it; what the page sent is re-drawn as pure black and white before fal sees it."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image

from core.errors import invalid

# A mask is one channel, mostly flat: a real one the size of a 4 MP image is a few dozen KiB.
MASK_MAX_BYTES = 8 * 1024 * 1024
_PAINTED = 128  # a pixel at least this light (over black, where it is see-through) is painted
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IHDR_END = 24  # signature, chunk length, "IHDR", width, height
_HINT = "Paint the region again on the page and press Submit."


@dataclass(frozen=True)
class Mask:
    """A checked mask: pure black and white PNG bytes, and how much of the image it covers."""

    png: bytes
    painted: int  # pixels to repaint
    pixels: int  # the whole image

    @property
    def share(self) -> float:
        return self.painted / self.pixels


def check_mask(data: bytes, *, width: int, height: int, max_bytes: int = MASK_MAX_BYTES) -> Mask:
    """The mask for a `width`×`height` image, or `invalid_input` saying what is wrong with it.

    Its header is read first (type and size, nothing decoded), so a decompression bomb or a
    mask of the wrong size costs nothing; only a PNG of exactly the image's size is decoded.
    CPU-bound for a large image: call it away from the event loop."""
    if len(data) > max_bytes:
        raise invalid(
            f"The mask is {len(data) // 1024} KiB; the limit is {max_bytes // 1024} KiB.", _HINT
        )
    if not data.startswith(_PNG_SIGNATURE):
        raise invalid("The mask must be a PNG image.", _HINT)
    # The size from the PNG's header chunk, before Pillow reads anything: a decompression bomb
    # (a few bytes that say 60000×60000) is refused here as the wrong size it is.
    if len(data) < _IHDR_END or data[12:16] != b"IHDR":
        raise invalid("The mask is damaged or truncated.", _HINT)
    said = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if said != (width, height):
        raise invalid(
            f"The mask is {said[0]}×{said[1]} pixels; the image is {width}×{height}.", _HINT
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
                if img.size != (width, height):
                    raise invalid("The mask is damaged or truncated.", _HINT)
                img.load()
                gray = _flatten(img)
    except (
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise invalid("The mask is damaged or truncated.", _HINT) from exc
    binary = gray.point(lambda v: 255 if v >= _PAINTED else 0)
    painted = binary.histogram()[255]
    pixels = width * height
    if painted == 0:
        raise invalid("Nothing is painted.", "Paint over the part of the image to change.")
    if painted == pixels:
        raise invalid(
            "The whole image is painted.",
            "Paint only the part to change (or use Edit to change the whole image).",
        )
    out = io.BytesIO()
    binary.save(out, "PNG", optimize=True)
    return Mask(out.getvalue(), painted, pixels)


def _flatten(img: Image.Image) -> Image.Image:
    """One gray channel: a see-through pixel counts as black (unpainted)."""
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(black, rgba).convert("L")
    return img.convert("L")
