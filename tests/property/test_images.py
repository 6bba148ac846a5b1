"""User images from hostile senders: whatever the bytes, `validate_image` hands back a still image
of an allowed format (read from the bytes, never from a declared type) within the caps, or refuses
with `invalid_input`. Wrong magic bytes, truncation, decompression bombs, huge dimensions,
animations and SVG are all refused before anything uses them."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from core.errors import BotError, ErrorCode
from core.media import ALLOWED_FORMATS, MAX_SIDE, validate_image

CAP = 2 * 1024 * 1024
MAGIC = {
    "png": b"\x89PNG\r\n\x1a\n",
    "jpeg": b"\xff\xd8\xff",
    "gif": b"GIF89a",
    "webp": b"RIFF\x00\x00\x00\x00WEBP",
    "bmp": b"BM",
    "pdf": b"%PDF-1.7",
    "zip": b"PK\x03\x04",
}


def encoded(fmt: str, width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, fmt)
    return buf.getvalue()


def refused(data: bytes, *, max_bytes: int = CAP) -> BotError:
    with pytest.raises(BotError) as caught:
        validate_image(data, max_bytes=max_bytes)
    assert caught.value.code is ErrorCode.INVALID_INPUT
    assert caught.value.hint
    return caught.value


def png_claiming(width: int, height: int) -> bytes:
    """A tiny real PNG whose header claims `width`×`height` (a decompression bomb's shape)."""
    data = bytearray(encoded("PNG", 1, 1))
    ihdr = 8 + 8  # signature, then length and type of the IHDR chunk
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13]))
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


@settings(max_examples=300)
@given(data=st.binary(max_size=4096))
def test_any_bytes_are_an_image_or_a_clean_refusal(data: bytes) -> None:
    try:
        image = validate_image(data, max_bytes=CAP)
    except BotError as error:
        assert error.code is ErrorCode.INVALID_INPUT
        return
    assert image.content_type in ALLOWED_FORMATS.values()


@settings(max_examples=60, deadline=None)
@given(
    fmt=st.sampled_from(["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF", "ICO", "PPM"]),
    width=st.integers(1, 256),  # ICO holds at most 256×256
    height=st.integers(1, 256),
)
def test_the_format_comes_from_the_bytes(fmt: str, width: int, height: int) -> None:
    data = encoded(fmt, width, height)
    if fmt not in ALLOWED_FORMATS:
        assert "not a supported image" in refused(data).message
        return
    image = validate_image(data, max_bytes=CAP)
    assert image.content_type == ALLOWED_FORMATS[fmt]
    assert (image.width, image.height) == (width, height)
    assert image.data == data


@settings(max_examples=100, deadline=None)
@given(
    fmt=st.sampled_from(["PNG", "JPEG", "WEBP", "GIF"]),
    magic=st.sampled_from(sorted(MAGIC)),
)
def test_wrong_magic_bytes_are_refused(fmt: str, magic: str) -> None:
    data = encoded(fmt, 64, 64)
    forged = MAGIC[magic] + data[len(MAGIC[magic]) :]
    if forged[:4] == data[:4]:
        return  # the same family of magic: not a forgery
    refused(forged)


@settings(max_examples=100, deadline=None)
@given(fmt=st.sampled_from(["PNG", "JPEG", "WEBP", "GIF"]), keep=st.floats(0.0, 0.85))
def test_truncated_images_are_refused(fmt: str, keep: float) -> None:
    # Noise, so that the pixel data is most of the file and a cut lands inside it.
    noisy = Image.frombytes("RGB", (96, 96), bytes((i * 7919) % 251 for i in range(96 * 96 * 3)))
    buf = io.BytesIO()
    noisy.save(buf, fmt)
    data = buf.getvalue()
    refused(data[: int(len(data) * keep)])


@pytest.mark.parametrize(
    ("width", "height"), [(100_000, 100_000), (40_000, 40_000), (MAX_SIDE + 1, 1), (1, 2**31 - 1)]
)
def test_bombs_and_huge_dimensions_are_refused_from_the_header(width: int, height: int) -> None:
    error = refused(png_claiming(width, height))
    assert "pixels" in error.message or "not an image I can read" in error.message


def test_an_image_just_within_the_side_limit_is_read() -> None:
    image = validate_image(encoded("PNG", MAX_SIDE, 1), max_bytes=CAP)
    assert image.width == MAX_SIDE


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_animated_images_are_refused(fmt: str) -> None:
    frames = [Image.new("RGB", (32, 32), c) for c in ("red", "green", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert "animated" in refused(buf.getvalue()).message


@pytest.mark.parametrize(
    "svg",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>',
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x "y">]><svg>&x;</svg>',
        b"<html><body><h1>Sign in to your workspace</h1></body></html>",
    ],
)
def test_svg_and_html_are_refused(svg: bytes) -> None:
    refused(svg)


def test_size_is_refused_before_anything_is_decoded() -> None:
    error = refused(b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048, max_bytes=1024)
    assert "limit" in error.message
    refused(b"")
