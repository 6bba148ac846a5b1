"""The image verbs typed on the console (`/vary JOB [strong]`, `/zoom JOB 2`, `/pan JOB left`,
`/animate JOB`), through the demo on the fal simulator: each reaches its endpoint with the
result's image, the child's footer names its parent and seed, `/jobs` shows the chain, and the
usage report counts each child under its own model. The tour shows two of them."""

from __future__ import annotations

import io
import re
from pathlib import Path

from bot.demo import TOUR, run_demo


async def _demo(script: list[str], tmp_path: Path) -> str:
    out = io.StringIO()
    code = await run_demo(
        script=script,
        interactive=False,
        data_dir=tmp_path / "data",
        out_dir=tmp_path / "out",
        out=out,
        latency=0.01,
    )
    said = out.getvalue()
    assert code == 0, said
    return said


async def test_each_verb_as_a_command_makes_a_child_of_the_job(tmp_path: Path) -> None:
    said = await _demo(
        [
            "/imagine --model flux-schnell --aspect 16:9 a lighthouse",
            "/wait",
            "/vary {job} strong",
            "/zoom {job} 1.5",
            "/pan {job} left",
            "/animate {job}",  # $0.50: above the demo's $0.20, so its quote first
            "/confirm",
            "/wait",
            "/jobs",
            "/usage",
            "!/pan {job} sideways",
            "!/zoom",
        ],
        tmp_path,
    )
    footers = re.findall(
        r"(\S+) · \$[\d.]+ · [\d.]+ s · seed \d+ · job (\w{8})(?: · from job (\w{8}))?", said
    )
    models = [(model, bool(parent)) for model, _, parent in footers]
    assert models == [
        ("flux-schnell", False),
        ("flux-vary", True),
        ("bria-expand", True),
        ("bria-expand", True),
        ("wan-2.5-animate", True),
    ]
    ids = [job for _, job, _ in footers]
    parents = [parent for _, _, parent in footers]
    assert parents[1:] == ids[:-1]  # each one made from the one before: a chain
    chain = " ← ".join(reversed(ids[:-1]))  # the console shows no backticks
    assert f"{ids[-1]} wan-2.5-animate · delivered" in said and f"from {chain}" in said
    for model in ("flux-schnell", "flux-vary", "bria-expand", "wan-2.5-animate"):
        assert re.search(rf"\n  {re.escape(model)}: \$[\d.]+", said), model  # each its own
    assert "sideways is not one of left, right, up, down." in said
    assert "Which result? Give its job id (from /jobs) to /zoom." in said


def test_the_tour_shows_two_verbs() -> None:
    assert "/vary {job} strong" in TOUR and "/zoom {job} 2" in TOUR
