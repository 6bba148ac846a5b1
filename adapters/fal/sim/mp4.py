"""A tiny but real MP4 (H.264) video, written by hand.

Each frame is one IDR picture whose macroblocks are all I_PCM: raw samples after a few header
bits, so no transform or entropy coder is needed and any H.264 decoder plays it. The container
is the minimal ISO-BMFF tree: `ftyp`, `moov` (one `avc1` video track) and `mdat`.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

_MB = 16


class _Bits:
    """An H.264 bit writer: fixed-width and Exp-Golomb codes, byte-aligned raw bytes."""

    def __init__(self) -> None:
        self._out = bytearray()
        self._acc = 0
        self._count = 0

    def u(self, value: int, width: int) -> None:
        for i in range(width - 1, -1, -1):
            self._acc = self._acc << 1 | (value >> i) & 1
            self._count += 1
            if self._count == 8:
                self._out.append(self._acc)
                self._acc = self._count = 0

    def ue(self, value: int) -> None:
        code = value + 1
        self.u(0, code.bit_length() - 1)
        self.u(code, code.bit_length())

    def se(self, value: int) -> None:
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def align_zero(self) -> None:
        if self._count:
            self.u(0, 8 - self._count)

    def raw(self, data: bytes) -> None:
        if self._count:
            raise ValueError("raw bytes must start on a byte boundary")
        self._out += data

    def trailing(self) -> None:
        self.u(1, 1)
        self.align_zero()

    def bytes(self) -> bytes:
        if self._count:
            raise ValueError("unaligned bit stream")
        return bytes(self._out)


def _nal(header: int, rbsp: bytes) -> bytes:
    """A NAL unit with emulation prevention (no 00 00 0x with x ≤ 3 in its payload)."""
    out = bytearray([header])
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def _sps(width: int, height: int) -> bytes:
    b = _Bits()
    b.u(66, 8)  # profile_idc: baseline
    b.u(0b11000000, 8)  # constraint_set0/1: constrained baseline
    b.u(30, 8)  # level_idc 3.0
    b.ue(0)  # seq_parameter_set_id
    b.ue(0)  # log2_max_frame_num_minus4
    b.ue(2)  # pic_order_cnt_type: output order is decoding order
    b.ue(1)  # max_num_ref_frames
    b.u(0, 1)  # gaps_in_frame_num_value_allowed_flag
    b.ue(width // _MB - 1)
    b.ue(height // _MB - 1)
    b.u(1, 1)  # frame_mbs_only_flag
    b.u(1, 1)  # direct_8x8_inference_flag
    b.u(0, 1)  # frame_cropping_flag
    b.u(0, 1)  # vui_parameters_present_flag
    b.trailing()
    return _nal(0x67, b.bytes())


def _pps() -> bytes:
    b = _Bits()
    b.ue(0)  # pic_parameter_set_id
    b.ue(0)  # seq_parameter_set_id
    b.u(0, 1)  # entropy_coding_mode_flag: CAVLC
    b.u(0, 1)  # bottom_field_pic_order_in_frame_present_flag
    b.ue(0)  # num_slice_groups_minus1
    b.ue(0)  # num_ref_idx_l0_default_active_minus1
    b.ue(0)  # num_ref_idx_l1_default_active_minus1
    b.u(0, 1)  # weighted_pred_flag
    b.u(0, 2)  # weighted_bipred_idc
    b.se(0)  # pic_init_qp_minus26
    b.se(0)  # pic_init_qs_minus26
    b.se(0)  # chroma_qp_index_offset
    b.u(0, 1)  # deblocking_filter_control_present_flag
    b.u(0, 1)  # constrained_intra_pred_flag
    b.u(0, 1)  # redundant_pic_cnt_present_flag
    b.trailing()
    return _nal(0x68, b.bytes())


def _idr_slice(yuv: tuple[bytes, bytes, bytes], *, width: int, height: int, idr_id: int) -> bytes:
    y_plane, u_plane, v_plane = yuv
    b = _Bits()
    b.ue(0)  # first_mb_in_slice
    b.ue(7)  # slice_type: I (every slice of the picture)
    b.ue(0)  # pic_parameter_set_id
    b.u(0, 4)  # frame_num (log2_max_frame_num = 4)
    b.ue(idr_id)  # idr_pic_id: differs between consecutive IDR pictures
    b.u(0, 1)  # no_output_of_prior_pics_flag
    b.u(0, 1)  # long_term_reference_flag
    b.se(0)  # slice_qp_delta
    cw = width // 2
    for mby in range(height // _MB):
        for mbx in range(width // _MB):
            b.ue(25)  # mb_type I_PCM
            b.align_zero()  # pcm_alignment_zero_bit
            luma = b"".join(
                y_plane[
                    (mby * _MB + r) * width + mbx * _MB : (mby * _MB + r) * width + mbx * _MB + _MB
                ]
                for r in range(_MB)
            )
            b.raw(luma)
            for plane in (u_plane, v_plane):
                b.raw(
                    b"".join(
                        plane[(mby * 8 + r) * cw + mbx * 8 : (mby * 8 + r) * cw + mbx * 8 + 8]
                        for r in range(8)
                    )
                )
    b.trailing()
    return _nal(0x65, b.bytes())


def _frame(
    width: int, height: int, index: int, color: tuple[int, int, int]
) -> tuple[bytes, bytes, bytes]:
    """One frame in 4:2:0: a gradient in `color` with a bar that moves with `index`."""
    y0, u0, v0 = color
    bar = (index * 4) % width
    y_rows = bytearray()
    for row in range(height):
        for col in range(width):
            value = 235 if bar <= col < bar + 4 else y0 + (row * 40) // height
            y_rows.append(max(16, min(235, value)))
    cw, ch = width // 2, height // 2
    return bytes(y_rows), bytes([u0]) * (cw * ch), bytes([v0]) * (cw * ch)


def _box(kind: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return _box(kind, struct.pack(">I", version << 24 | flags), *parts)


_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def _moov(
    *,
    width: int,
    height: int,
    samples: Sequence[int],
    fps: int,
    sps: bytes,
    pps: bytes,
    offset: int,
) -> bytes:
    count = len(samples)
    duration_ms = count * 1000 // fps
    mvhd = _full(
        b"mvhd", 0, 0,
        struct.pack(">IIII", 0, 0, 1000, duration_ms),
        struct.pack(">IH", 0x10000, 0x100), bytes(10), _MATRIX, bytes(24), struct.pack(">I", 2),
    )  # fmt: skip
    tkhd = _full(
        b"tkhd", 0, 3,
        struct.pack(">IIIII", 0, 0, 1, 0, duration_ms), bytes(8),
        struct.pack(">hhhH", 0, 0, 0, 0), _MATRIX, struct.pack(">II", width << 16, height << 16),
    )  # fmt: skip
    mdhd = _full(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, fps, count, 0x55C4, 0))
    hdlr = _full(b"hdlr", 0, 0, struct.pack(">I4s", 0, b"vide"), bytes(12), b"VideoHandler\0")
    avcc = _box(
        b"avcC",
        bytes([1, sps[1], sps[2], sps[3], 0xFF, 0xE1]), struct.pack(">H", len(sps)), sps,
        bytes([1]), struct.pack(">H", len(pps)), pps,
    )  # fmt: skip
    name = b"falbot simulator"
    avc1 = _box(
        b"avc1",
        bytes(6), struct.pack(">H", 1), bytes(16), struct.pack(">HH", width, height),
        struct.pack(">IIIH", 0x480000, 0x480000, 0, 1),
        bytes([len(name)]) + name + bytes(31 - len(name)), struct.pack(">Hh", 0x18, -1), avcc,
    )  # fmt: skip
    stbl = _box(
        b"stbl",
        _full(b"stsd", 0, 0, struct.pack(">I", 1), avc1),
        _full(b"stts", 0, 0, struct.pack(">III", 1, count, 1)),
        _full(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, count, 1)),
        _full(
            b"stsz", 0, 0, struct.pack(">II", 0, count), *(struct.pack(">I", s) for s in samples)
        ),
        _full(b"stco", 0, 0, struct.pack(">II", 1, offset)),
    )
    dinf = _box(b"dinf", _full(b"dref", 0, 0, struct.pack(">I", 1), _full(b"url ", 0, 1)))
    minf = _box(b"minf", _full(b"vmhd", 0, 1, bytes(8)), dinf, stbl)
    trak = _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, minf))
    return _box(b"moov", mvhd, trak)


def tiny_mp4(
    *,
    width: int = 64,
    height: int = 48,
    seconds: int = 2,
    fps: int = 4,
    color: tuple[int, int, int] = (80, 110, 160),
) -> bytes:
    """An H.264 MP4 of `seconds` × `fps` frames; width and height are rounded to 16."""
    width = max(_MB, width // _MB * _MB)
    height = max(_MB, height // _MB * _MB)
    sps, pps = _sps(width, height), _pps()
    frames = [
        _idr_slice(_frame(width, height, i, color), width=width, height=height, idr_id=i % 2)
        for i in range(max(1, seconds * fps))
    ]
    samples = [struct.pack(">I", len(f)) + f for f in frames]
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 512), b"isomiso2avc1mp41")
    sizes = [len(s) for s in samples]
    probe = _moov(width=width, height=height, samples=sizes, fps=fps, sps=sps, pps=pps, offset=0)
    offset = len(ftyp) + len(probe) + 8
    moov = _moov(
        width=width, height=height, samples=sizes, fps=fps, sps=sps, pps=pps, offset=offset
    )
    return ftyp + moov + _box(b"mdat", *samples)
