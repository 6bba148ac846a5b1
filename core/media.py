"""Checks on user images before anything uses them: type, size, dimensions, integrity.

Reading an image's header is cheap and says its size; decoding it is the expensive part. So a
request's images are each read first (`read_header`), their pixels counted against the
request's cap (`PixelBudget`), and only then decoded (`decode`). Adapters do both away from
the event loop."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

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
# All the images of one request together: decoding is the costly part of taking an image in
# (about half a second of CPU per 40 MP), so one request may not ask for ten of them.
MAX_REQUEST_PIXELS = 64_000_000

_HINT = "Attach a PNG, JPEG, WebP or GIF image."
_UNREADABLE = (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning)


@dataclass(frozen=True)
class ImageHeader:
    """What an image says of itself before a pixel is decoded."""

    format: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def validate_image(data: bytes, *, max_bytes: int, max_pixels: int = MAX_PIXELS) -> InputImage:
    """Return the image as a validated `InputImage`, or raise `invalid_input` saying why.

    The declared content type is never trusted: the format is read from the bytes.
    """
    return decode(data, read_header(data, max_bytes=max_bytes, max_pixels=max_pixels))


def read_header(data: bytes, *, max_bytes: int, max_pixels: int = MAX_PIXELS) -> ImageHeader:
    """The image's format and size from its header, checked without decoding; or
    `invalid_input` saying why it will not do."""
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
                if width * height > max_pixels or max(width, height) > MAX_SIDE:
                    raise invalid(
                        f"That image is {width}×{height} pixels; the limit is "
                        f"{max_pixels // 1_000_000} megapixels and {MAX_SIDE} px a side.",
                        "Send a smaller image.",
                    )
                if getattr(img, "is_animated", False):
                    # Models take one still picture; many frames are also many decodes.
                    raise invalid("That image is animated.", "Send a still image.")
    except _UNREADABLE:
        raise invalid("That file is not an image I can read.", _HINT) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise invalid("That image is damaged or truncated.", _HINT) from exc
    return ImageHeader(fmt, width, height)


def decode(data: bytes, header: ImageHeader) -> InputImage:
    """Decode every pixel (truncated or corrupt data fails here) of an image whose header
    `read_header` accepted. CPU-bound for up to a second or so."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if (img.format, img.size) != (header.format, (header.width, header.height)):
                    raise invalid("That file is not an image I can read.", _HINT)
                img.load()
    except _UNREADABLE:
        raise invalid("That file is not an image I can read.", _HINT) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise invalid("That image is damaged or truncated.", _HINT) from exc
    return checked_image(data, header)


def checked_image(data: bytes, header: ImageHeader) -> InputImage:
    """The `InputImage` for bytes whose header was read and whose decode succeeded."""
    return InputImage(
        content_type=ALLOWED_FORMATS[header.format],
        data=data,
        width=header.width,
        height=header.height,
    )


class PixelBudget:
    """The pixels one request's images may add up to; each image is counted before it is
    decoded, so a request never decodes more than `limit` pixels in all."""

    def __init__(self, limit: int = MAX_REQUEST_PIXELS) -> None:
        self.limit = limit
        self.used = 0

    def take(self, header: ImageHeader) -> None:
        """Count this image's pixels in, or refuse it (and the request) naming the cap."""
        total = self.used + header.pixels
        if total > self.limit:
            raise invalid(
                f"Your images add up to {_megapixels(total)} megapixels; the limit is "
                f"{_megapixels(self.limit)} megapixels for one request.",
                "Send fewer or smaller images.",
            )
        self.used = total


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:.1f}".removesuffix(".0")


def _size(n: int) -> str:
    return f"{n / 1_048_576:.1f} MiB" if n >= 1_048_576 else f"{max(1, n // 1024)} KiB"
