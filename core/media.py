"""Checks on user images before anything uses them: type, size, dimensions, integrity."""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from core.errors import invalid
from core.jobs import InputImage

ALLOWED_FORMATS = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}
MAX_PIXELS = 40_000_000  # 40 MP: well above any model's input, far below a bomb
MAX_SIDE = 12_000

_HINT = "Attach a PNG, JPEG, WebP or GIF image."


def validate_image(data: bytes, *, max_bytes: int, max_pixels: int = MAX_PIXELS) -> InputImage:
    """Return the image as a validated `InputImage`, or raise `invalid_input` saying why.

    The declared content type is never trusted: the format is read from the bytes.
    """
    if len(data) > max_bytes:
        raise invalid(
            f"That image is {_size(len(data))}; the limit is {_size(max_bytes)}.",
            "Send a smaller image.",
        )
    if not data:
        raise invalid("That file is empty.", _HINT)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt = img.format or ""
                width, height = img.size
                if fmt not in ALLOWED_FORMATS:
                    raise invalid(
                        f"That file is a {fmt or 'unknown'} file, not a supported image.", _HINT
                    )
                # Size is known from the header: refuse before decoding a single pixel.
                if width * height > max_pixels or max(width, height) > MAX_SIDE:
                    raise invalid(
                        f"That image is {width}×{height} pixels; the limit is "
                        f"{max_pixels // 1_000_000} megapixels and {MAX_SIDE} px a side.",
                        "Send a smaller image.",
                    )
                if getattr(img, "is_animated", False):
                    # Models take one still picture; many frames are also many decodes.
                    raise invalid("That image is animated.", "Send a still image.")
                img.load()  # decodes fully: truncated or corrupt data fails here
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise invalid("That file is not an image I can read.", _HINT) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise invalid("That image is damaged or truncated.", _HINT) from exc
    return InputImage(content_type=ALLOWED_FORMATS[fmt], data=data, width=width, height=height)


def _size(n: int) -> str:
    return f"{n / 1_048_576:.1f} MiB" if n >= 1_048_576 else f"{max(1, n // 1024)} KiB"
