"""The console's screen: chat markup shown as a terminal shows it, and one progress line that
updates in place (on a terminal) without running into what is printed next."""

from __future__ import annotations

import re
from typing import TextIO

_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_CODE = re.compile(r"`([^`\n]+)`")
_ANSI_BOLD, _ANSI_CODE, _ANSI_RESET = "\033[1m", "\033[36m", "\033[0m"
_CLEAR_LINE = "\r\033[K"
_UP = "\033[1A"


def styled(text: str, *, ansi: bool) -> str:
    """`**bold**` and `` `code` `` as a terminal shows them: ANSI styles, or the plain words."""
    if ansi:
        text = _BOLD.sub(lambda m: f"{_ANSI_BOLD}{m.group(1)}{_ANSI_RESET}", text)
        return _CODE.sub(lambda m: f"{_ANSI_CODE}{m.group(1)}{_ANSI_RESET}", text)
    return _CODE.sub(r"\1", _BOLD.sub(r"\1", text))


class Terminal:
    """Everything the console writes goes through here, so a line being updated in place is
    ended before anything else is printed."""

    def __init__(self, out: TextIO, *, tty: bool | None = None) -> None:
        self.out = out
        self.tty = out.isatty() if tty is None else tty
        self._live: str | None = None  # the label of the line being updated in place
        self._prompt: str | None = None  # shown while waiting for the person to type

    def say(self, text: str) -> None:
        """A message: its own lines, after any open progress line."""
        shown = styled(text, ansi=self.tty)
        if self.tty and self._prompt is not None:
            self._above_prompt(shown, replace=False)
            self._live = None
        else:
            self._end_live()
            self.out.write(shown + "\n")
        self.out.flush()

    def _above_prompt(self, text: str, *, replace: bool) -> None:
        """Write `text` on the line(s) above the prompt (replacing the progress line there),
        then show the prompt again below it."""
        up = _UP + _CLEAR_LINE if replace else ""
        self.out.write(f"{_CLEAR_LINE}{up}{text}\n{self._prompt}")

    def progress(self, label: str, text: str) -> None:
        """A job's progress: rewritten in place on a terminal, one plain line per change
        otherwise."""
        line = f"[{label}] {styled(text, ansi=self.tty)}"
        if not self.tty:
            self.out.write(line + "\n")
        elif self._prompt is not None:  # the person is typing: keep the line above the prompt
            self._above_prompt(line, replace=self._live == label)
            self._live = label
        else:
            if self._live is not None and self._live != label:
                self._end_live()  # another job's line stays as it was last shown
            self.out.write(_CLEAR_LINE + line)
            self._live = label
        self.out.flush()

    def final(self, label: str, text: str) -> None:
        """A job's last word: replaces its progress line, then a new line."""
        line = f"[{label}] {styled(text, ansi=self.tty)}"
        if self.tty and self._prompt is not None:
            self._above_prompt(line, replace=self._live == label)
            self._live = None
            self.out.flush()
            return
        if self.tty and self._live == label:
            self.out.write(_CLEAR_LINE)
            self._live = None
        self.say(line)

    def prompt(self, text: str) -> str:
        """The prompt to show for `input()`, on a line of its own; until `typed()`, output goes
        above it."""
        self._end_live()
        self._prompt = text
        return text

    def typed(self) -> None:
        """The person pressed Enter: the prompt line is theirs, output goes below again."""
        self._prompt = None
        self._live = None

    def _end_live(self) -> None:
        if self._live is not None:
            self.out.write("\n")
            self._live = None
