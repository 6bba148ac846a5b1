"""The console demo saves the usage chart (and, for admins, the CSV) under its output folder."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

from PIL import Image

from adapters.usage_chart import HEIGHT, WIDTH
from bot.demo import run_demo


async def test_usage_commands_save_the_chart_and_the_csv_under_out(tmp_path: Path) -> None:
    out = io.StringIO()
    script = [
        "/imagine --model nano-banana --count 2 a fox in the snow",
        "/wait",
        "/usage",
        "/admin usage 7 --csv",
    ]
    code = await run_demo(
        script=script,
        interactive=False,
        data_dir=tmp_path / "data",
        out_dir=tmp_path / "out",
        out=out,
        latency=0.01,
    )
    assert code == 0, out.getvalue()
    charts = sorted((tmp_path / "out").glob("usage-*.png"))
    assert [p.name.split("-")[1] for p in charts] == ["me", "workspace"]
    for chart in charts:
        assert f"saved {chart}" in out.getvalue()
        with Image.open(chart) as image:
            assert (image.format, image.size) == ("PNG", (WIDTH, HEIGHT))
    (export,) = (tmp_path / "out").glob("usage-workspace-*.csv")
    rows = list(csv.DictReader(export.read_text().splitlines()))
    assert [r["model"] for r in rows] == ["nano-banana"]
    assert sum(Decimal(r["cost_usd"]) for r in rows) == Decimal("0.078")  # two images at $0.039


async def test_console_admin_speaks_slacks_grammar(tmp_path: Path) -> None:
    """`workspace` as the target means everyone (the console set a quota for a user called
    `workspace`), and a period may be `week` (the console took only a number)."""
    out = io.StringIO()
    script = ["/admin quota set workspace 12 3", "/admin usage week", "/usage week"]
    code = await run_demo(
        script=script,
        interactive=False,
        data_dir=tmp_path / "data",
        out_dir=tmp_path / "out",
        out=out,
        latency=0.01,
    )
    shown = out.getvalue()
    assert code == 0, shown
    assert "Quota for everyone here: 12 credits, refilling 3 an hour." in shown
