"""The console's /settings, /describe and /blend (the shared text grammar): a changed default
shapes the next /imagine, reset puts it back; /describe prints four suggestions; /blend takes
two to five image paths and refuses one or six with the reason."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from bot.demo import run_demo


def _png(path: Path, color: str) -> str:
    Image.new("RGB", (40, 30), color).save(path, "PNG")
    return str(path)


async def test_settings_describe_and_blend_on_the_console(tmp_path: Path) -> None:
    images = [
        _png(tmp_path / f"in{i}.png", c)
        for i, c in enumerate(["red", "green", "blue", "gray", "teal", "pink"])
    ]
    out_dir = tmp_path / "out"
    script = [
        "/settings aspect 16:9 count 2",
        "/imagine a fox",
        "/wait",
        "/settings reset",
        f"/describe {images[0]}",
        "/wait",
        f"/blend {images[0]} {images[1]} one room --aspect 4:3",
        "/wait",
        f"!/blend {images[0]}",
        "!/blend " + " ".join(images),
        "!/settings aspect 5:4",
    ]
    output = io.StringIO()
    code = await run_demo(
        script=script,
        interactive=False,
        data_dir=tmp_path / "data",
        out_dir=out_dir,
        out=output,
        latency=0.01,
    )
    said = output.getvalue()
    assert code == 0, said
    assert "Aspect: 16:9 (yours)" in said and "Count: 2 (yours)" in said
    sizes = sorted(Image.open(p).size for p in out_dir.glob("falbot-*.png"))
    assert sizes == [(1024, 576), (1024, 576), (1024, 768)]  # two foxes at 16:9, a 4:3 blend
    assert "Your settings" in said and "Aspect: 1:1 (falbot default)" in said  # after reset
    assert [f"suggestion {i}: " in said for i in (1, 2, 3, 4)] == [True] * 4
    assert "40x30 scene" in said
    assert "kontext-blend takes at least 2 images; you gave 1." in said
    assert "kontext-blend takes at most 5 image(s); you gave 6." in said
    assert "5:4 is not an aspect." in said
