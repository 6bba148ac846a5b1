"""The image verbs typed on a text surface (`adapters.text_commands.job_verbs`): each line is the
`FollowUp` the matching button sends, and a wrong word says what it takes."""

from __future__ import annotations

import pytest

from adapters.console import read_line
from adapters.console.session import HELP
from adapters.text_commands.job_verbs import RESULT_VERBS, read_job_verb
from core.commands import FollowUp
from core.errors import BotError

BY_NAME = {f"/{v.name}": v for v in RESULT_VERBS}


def _read(line: str) -> FollowUp:
    read = read_line(line)
    verb = BY_NAME[read.name]
    return read_job_verb(verb, read.parsed.words, read.parsed.options, usage=verb.usage())


@pytest.mark.parametrize(
    ("line", "action", "image"),
    [
        ("/vary 1a2b3c4d", "vary_subtle", None),
        ("/vary 1a2b3c4d strong", "vary_strong", None),
        ("/vary 1a2b3c4d subtle --image 3", "vary_subtle", 2),
        ("/zoom 1a2b3c4d", "zoom_2", None),
        ("/zoom 1a2b3c4d 1.5", "zoom_1.5", None),
        ("/zoom 1a2b3c4d 2×", "zoom_2", None),
        ("/pan 1a2b3c4d LEFT", "pan_left", None),
        ("/pan 1a2b3c4d down", "pan_down", None),
        ("/animate 1a2b3c4d --image 2", "animate", 1),
    ],
)
def test_each_line_is_its_buttons_follow_up(line: str, action: str, image: int | None) -> None:
    assert _read(line) == FollowUp("1a2b3c4d", action, image_index=image)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("/pan 1a2b3c4d", "`nothing` is not one of `left`, `right`, `up`, `down`."),
        ("/zoom 1a2b3c4d 3", "`3` is not one of `2`, `2x`, `1.5`, `1.5x`."),
        ("/vary", "Which result? Give its job id (from /jobs) to /vary."),
        ("/animate 1a2b3c4d now please", "/animate takes a job id and at most one word after it."),
        ("/vary 1a2b3c4d --image 9", "`--image` is a number from 1 to 4."),
    ],
)
def test_a_wrong_line_says_what_the_verb_takes(line: str, says: str) -> None:
    with pytest.raises(BotError) as refused:
        _read(line)
    assert refused.value.message == says
    assert refused.value.hint and refused.value.hint.startswith("Usage: `/")


def test_the_console_help_lists_the_verbs() -> None:
    for usage in (
        "`/vary <job> [subtle|strong] [--image 1-4]`",
        "`/zoom <job> [2|1.5] [--image 1-4]`",
        "`/pan <job> left|right|up|down [--image 1-4]`",
        "`/animate <job> [--image 1-4]`",
    ):
        assert usage in HELP
