"""What the console says, in the demo: names instead of ids, one wait with its clock time,
no markup left over (items 14 and 15 of issue 10)."""

from __future__ import annotations

import io
import re
from pathlib import Path

from bot.demo import run_demo


async def test_the_console_names_people_and_says_one_wait_with_the_clock(tmp_path: Path) -> None:
    out = io.StringIO()
    script = [
        "/admin quota show alice",
        "/admin ban alice",
        "/admin unban alice",
        "/imagine --model nano-banana a fox in the snow",
        "/wait",
        "/admin usage 7",
        "/admin quota set console-user 500 60",
        "/admin budget set 0.05 none",
        "!/imagine --model nano-banana --count 2 two foxes",
        "/quota",
    ]
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
    assert "alice can no longer use falbot here." in said
    assert "alice can use falbot here again." in said
    assert "Quota for you: 500 credits" in said  # the console's own user, by name
    assert "  you: $0.039" in said  # the usage list names the spender
    assert "<@" not in said and "<t:" not in said and "**" not in said
    # The day's budget is used up until midnight: the wait said once, with the clock time.
    refusal = said[said.index("Budget reached") :]
    wait = re.compile(
        r"\nTry again in (\d+ h|\d+ min|\d+ h \d+ min) \((\w{3} \d\d )?\d\d:\d\d\)\.\n"
    )
    assert wait.search(refusal), refusal
    assert said.count("Try again in") == 1
    assert "$0.011 is left and this job needs about $0.078" in refusal
    assert "One image with flux-schnell costs 0.3 credits ($0.003)" in said
