"""The console's replies: a progress line that updates in place, results saved under ./out."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.console.terminal import Terminal
from core.errors import BotError
from core.jobs import Delivery, Job, ProgressView
from core.markup import translate
from core.render import render_error


def console_text(text: str, *, people: Mapping[str, str] | None = None) -> str:
    """Core's people and clock times as the console shows them: people by name (on the console
    a user is typed by name, so an id without one is the name), clock times in the local time
    zone. Bold and code are the terminal's (`Terminal` styles them)."""
    people = people or {}

    def clock(unix: int, with_date: bool) -> str:
        when = datetime.fromtimestamp(unix, UTC).astimezone()
        return f"{when:%b %d %H:%M}" if with_date else f"{when:%H:%M}"

    return translate(
        text,
        user=lambda user_id: people.get(user_id, user_id),
        role=lambda role_id: f"role {role_id}",
        clock=clock,
    )


def now() -> datetime:
    return datetime.now(UTC)


class ConsoleReply:
    def __init__(
        self, *, job_label: str, terminal: Terminal, out_dir: Path, done: asyncio.Event
    ) -> None:
        self.label = job_label
        self._terminal = terminal
        self._out_dir = out_dir
        self.done = done
        self.failed: BotError | None = None
        self.saved: list[Path] = []
        self.progress_shown: list[ProgressView] = []

    def persisted_ref(self) -> dict[str, Any]:
        return {}  # a console job ends with its process

    def _line(self, text: str, *, final: bool) -> None:
        if final:
            self._terminal.final(self.label, text)
        else:
            self._terminal.progress(self.label, text)

    async def progress(self, view: ProgressView) -> None:
        self.progress_shown.append(view)
        self._line(view.text(), final=False)

    async def deliver(self, delivery: Delivery) -> None:
        self._out_dir.mkdir(parents=True, exist_ok=True)
        shown = []
        for file in delivery.files:
            if file.data is None:
                shown.append(file.output.url)
                continue
            path = self._out_dir / file.file_name
            path.write_bytes(file.data)
            self.saved.append(path)
            shown.append(str(path))
        self._line(f"done: {', '.join(shown)}" if shown else "done", final=True)
        for i, text in enumerate(delivery.result.texts, 1):  # a describe's suggestions
            self._line(f"suggestion {i}: {text}", final=True)
        self._line(delivery.footer(), final=True)
        self.done.set()

    async def fail(self, job: Job, error: BotError, *, credits_returned: bool) -> None:
        self.failed = error
        text = render_error(error, credits_returned=credits_returned, now=now())
        text = console_text(text).replace("\n", " ")
        self._line(f"job {job.short_id} {job.state.value}: {text}", final=True)
        self.done.set()


class ConsoleReplyFactory:
    """After a restart, jobs of the console come back on the same terminal."""

    platform = "console"

    def __init__(self, *, terminal: Terminal, out_dir: Path) -> None:
        self._terminal = terminal
        self._out_dir = out_dir

    def rebuild(self, job: Job) -> ConsoleReply:
        return ConsoleReply(
            job_label=job.short_id,
            terminal=self._terminal,
            out_dir=self._out_dir,
            done=asyncio.Event(),
        )
