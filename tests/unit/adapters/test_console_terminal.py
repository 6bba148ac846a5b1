"""The console's screen: chat markup as a terminal shows it, progress in place on a terminal and
as plain lines without one, and nothing printed into the middle of a progress line."""

from __future__ import annotations

import io

from adapters.console import Terminal
from adapters.console.terminal import styled


def test_without_a_terminal_markup_is_plain_words() -> None:
    out = io.StringIO()
    Terminal(out, tty=False).say("**That didn't work**: use `--count` 1 to 4")
    assert out.getvalue() == "That didn't work: use --count 1 to 4\n"


def test_on_a_terminal_bold_and_code_are_styles() -> None:
    text = styled("**Done**: `job 7f3a`", ansi=True)
    assert "**" not in text and "`" not in text
    assert "\033[1mDone\033[0m" in text and "\033[36mjob 7f3a\033[0m" in text


def test_progress_updates_in_place_and_is_ended_before_anything_else() -> None:
    out = io.StringIO()
    screen = Terminal(out, tty=True)
    screen.progress("ab12", "queued (position 1 of 1)")
    screen.progress("ab12", "running")
    screen.say("falbot> ")
    screen.final("ab12", "done")
    shown = out.getvalue()
    assert shown.count("\n") == 3  # the live line ends before the message; then the result
    assert shown.startswith("\r\033[K[ab12] queued (position 1 of 1)\r\033[K[ab12] running\n")
    assert "running" + "falbot" not in shown


def test_progress_without_a_terminal_is_one_plain_line_per_update() -> None:
    out = io.StringIO()
    screen = Terminal(out, tty=False)
    screen.progress("ab12", "queued")
    screen.progress("ab12", "running")
    assert out.getvalue() == "[ab12] queued\n[ab12] running\n"


def test_while_the_person_types_progress_stays_above_the_prompt() -> None:
    out = io.StringIO()
    screen = Terminal(out, tty=True)
    prompt = screen.prompt("falbot> ")
    out.write(prompt)  # as input() shows it
    screen.progress("ab12", "queued (position 1 of 1)")
    screen.progress("ab12", "running")
    screen.final("ab12", "done")
    shown = out.getvalue()
    assert "1)falbot> " not in shown and "runningfalbot> " not in shown
    assert shown.endswith("[ab12] done\nfalbot> ")  # the result above, the prompt below
    assert shown.count("\n") == 3  # the progress line was rewritten, not repeated: one per write
    screen.typed()
    screen.say("next")
    assert out.getvalue().endswith("falbot> next\n")
