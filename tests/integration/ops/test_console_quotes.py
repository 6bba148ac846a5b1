"""The console demo's quotes: a job above the threshold shows its price and waits for
/confirm (or /decline); `/admin confirm-above` and `/admin private` work there too."""

from __future__ import annotations

import io
from pathlib import Path

from bot.demo import run_demo


async def _run(tmp_path: Path, script: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = await run_demo(
        script=script,
        interactive=False,
        data_dir=tmp_path / "data",
        out_dir=tmp_path / "out",
        out=out,
        latency=0.01,
    )
    return code, out.getvalue()


async def test_a_video_waits_for_confirm_then_runs_once(tmp_path: Path) -> None:
    code, shown = await _run(
        tmp_path,
        ["/video --model wan-2.5 --duration 5 waves", "/quota", "/confirm", "/wait", "!/confirm"],
    )
    assert code == 0, shown
    quote, rest = shown.split("Type /confirm to start it, or /decline.", 1)
    assert "wan-2.5 will cost about $0.50 (50 credits). You have 100 credits." in quote
    assert "You have 100.00 of 100 credits" in rest  # nothing taken before /confirm
    assert rest.count("· $0.50 ·") == 1  # the one job's footer
    assert "You already confirmed this quote" in rest
    assert len(list((tmp_path / "out").glob("*.mp4"))) == 1


async def test_decline_takes_nothing(tmp_path: Path) -> None:
    code, shown = await _run(
        tmp_path, ["/video --model wan-2.5 --duration 5 waves", "/decline", "!/confirm"]
    )
    assert code == 0, shown
    assert "Cancelled: wan-2.5 was not started, and nothing was taken." in shown
    assert "You cancelled this quote; nothing was taken." in shown
    assert list((tmp_path / "out").glob("*.mp4")) == []


async def test_admin_confirm_above_and_private(tmp_path: Path) -> None:
    code, shown = await _run(
        tmp_path,
        [
            "/admin confirm-above off",
            "/admin private forbid",
            "!/imagine --private a fox",
            "/video --model wan-2.5 --duration 5 waves",
            "/wait",
        ],
    )
    assert code == 0, shown
    assert "Jobs start without a quote here, whatever they cost." in shown
    assert "Private mode is turned off in this workspace by its admins" in shown
    assert "Type /confirm" not in shown
    assert len(list((tmp_path / "out").glob("*.mp4"))) == 1
