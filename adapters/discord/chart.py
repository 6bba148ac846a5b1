"""A small bar chart of spend per day for /admin usage, drawn with Pillow."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

from PIL import Image, ImageDraw

from core.usage import UsageReport

_W, _H, _PAD = 640, 280, 32
_BAR = (88, 101, 242)
_TEXT = (220, 221, 222)
_BG = (47, 49, 54)


def usage_chart(report: UsageReport) -> bytes | None:
    """A PNG with one bar per day of the period; None when nothing was spent."""
    per_day = report.per_day()
    if not per_day:
        return None
    first, last = report.since.date(), report.until.date()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    totals = [sum(per_day.get(d, {}).values(), Decimal(0)) for d in days]
    top = max(totals) or Decimal(1)
    img = Image.new("RGB", (_W, _H), _BG)
    draw = ImageDraw.Draw(img)
    width = (_W - 2 * _PAD) / len(days)
    for i, total in enumerate(totals):
        height = float(total / top) * (_H - 3 * _PAD)
        x0 = _PAD + i * width
        draw.rectangle((x0 + 1, _H - _PAD - height, x0 + max(width - 1, 2), _H - _PAD), fill=_BAR)
    draw.text((_PAD, 8), f"spend per day, max ${top:.2f}", fill=_TEXT)
    draw.text((_PAD, _H - _PAD + 8), f"{first:%Y-%m-%d}", fill=_TEXT)
    draw.text((_W - _PAD - 70, _H - _PAD + 8), f"{last:%Y-%m-%d}", fill=_TEXT)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()
