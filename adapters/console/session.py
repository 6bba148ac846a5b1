"""A terminal chat on the same engine as Discord and Slack: one admin user, typed commands."""

from __future__ import annotations

import asyncio
import difflib
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from adapters.console.reply import ConsoleReply, console_text, now
from adapters.console.terminal import Terminal
from adapters.usage_chart import file_stem, usage_chart_png, usage_csv
from core.admin import AdminService
from core.commands import Generate
from core.engine import Engine
from core.errors import BotError, invalid
from core.jobs import Actor, InputImage, JobKind
from core.media import validate_image
from core.quota import QuotaScope
from core.render import (
    render_admin,
    render_error,
    render_jobs,
    render_models,
    render_quota,
    render_usage,
)
from core.usage import UsageReport

HELP = """\
/imagine [--model M] [--aspect 16:9] [--count N] [--seed S] PROMPT
/edit PATH [PATH…] [--model M] PROMPT      /upscale PATH [--scale 2]
/video [--model M] [--duration S] PROMPT   /models  /quota  /usage [DAYS]  /jobs
/cancel JOB   /wait   /help   /quit
/admin quota set TARGET CAPACITY REFILL_PER_HOUR [--scope user|role|workspace]
/admin quota show TARGET   /admin budget set DAILY_USD MONTHLY_USD
/admin models allow|deny MODEL   /admin ban|unban USER   /admin usage [DAYS] [--csv]
/admin refund JOB   /admin nsfw withhold|spoiler|allow
A line starting with ! expects the command to fail (for scripts)."""

_FLAGS_WITH_VALUES = {
    "model",
    "aspect",
    "count",
    "seed",
    "duration",
    "scale",
    "quality",
    "resolution",
    "scope",
}
_BOOL_FLAGS = {"audio", "csv"}
COMMAND_NAMES = (
    "/imagine",
    "/edit",
    "/upscale",
    "/video",
    "/models",
    "/quota",
    "/usage",
    "/jobs",
    "/cancel",
    "/wait",
    "/help",
    "/admin",
    "/quit",
)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """` Did you mean `x`?` for the closest choice, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean `{close[0]}`?" if close else ""


@dataclass
class Parsed:
    words: list[str]
    options: dict[str, Any] = field(default_factory=dict)


def parse(line: str) -> Parsed:
    """Words and `--option value` pairs; a clear error for a malformed line."""
    try:
        tokens = shlex.split(line)
    except ValueError as exc:
        raise invalid(f"I could not read that line: {exc}.", "Check your quotes.") from None
    parsed = Parsed([])
    it = iter(tokens)
    for token in it:
        if token.startswith("--") and len(token) > 2:
            name = token[2:].replace("-", "_")
            if name in _BOOL_FLAGS:
                parsed.options[name] = True
            elif name in _FLAGS_WITH_VALUES:
                value = next(it, None)
                if value is None:
                    raise invalid(f"`--{name}` needs a value.", "See /help.")
                parsed.options[name] = value
            else:
                options = [f"--{o}" for o in sorted(_FLAGS_WITH_VALUES | _BOOL_FLAGS)]
                hint = did_you_mean(token, options)
                raise invalid(f"There is no option `{token[:40]}`.{hint}", "See /help.")
        else:
            parsed.words.append(token)
    return parsed


class ConsoleSession:
    def __init__(
        self,
        *,
        engine: Engine,
        admin: AdminService,
        terminal: Terminal,
        out_dir: Path,
        max_input_bytes: int,
        user_id: str = "console-user",
    ) -> None:
        self._engine = engine
        self._admin = admin
        self._terminal = terminal
        self._out_dir = out_dir
        self._max_input_bytes = max_input_bytes
        self.actor = Actor("console", "console", user_id, is_admin=True, name="you")
        self.replies: list[ConsoleReply] = []

    def say(self, text: str) -> None:
        people = {self.actor.user_id: self.actor.name or self.actor.user_id}
        self._terminal.say(console_text(text, people=people))

    async def handle(self, line: str) -> bool:
        """Run one command line. Returns whether it went as expected."""
        line = line.strip()
        expect_failure = line.startswith("!")
        line = line.removeprefix("!").strip()
        if not line or line.startswith("#"):
            return True
        try:
            await self._dispatch(parse(line))
        except BotError as error:
            self.say(render_error(error, now=now()))
            return expect_failure
        if expect_failure:
            self.say(f"expected `{line}` to fail, and it did not")
            return False
        return True

    async def wait(self) -> bool:
        """Wait for every job this session started; False if any failed."""
        await asyncio.gather(*(r.done.wait() for r in self.replies))
        return all(r.failed is None for r in self.replies)

    async def _dispatch(self, cmd: Parsed) -> None:
        if not cmd.words:
            raise invalid("Type a command.", "See /help.")
        name, args = cmd.words[0].lower(), cmd.words[1:]
        opts = cmd.options
        if name == "/help":
            self.say(HELP)
        elif name == "/imagine":
            await self._submit(JobKind.IMAGE, opts, prompt=" ".join(args))
        elif name == "/video":
            await self._submit(JobKind.VIDEO, opts, prompt=" ".join(args))
        elif name == "/edit":
            paths = [
                a
                for a in args
                if Path(a).suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".gif")
            ]
            prompt = " ".join(a for a in args if a not in paths)
            await self._submit(JobKind.EDIT, opts, prompt=prompt, images=self._read(paths))
        elif name == "/upscale":
            await self._submit(JobKind.UPSCALE, opts, prompt=None, images=self._read(args[:1]))
        elif name == "/models":
            self.say(render_models(await self._engine.models(self.actor.workspace_id)))
        elif name == "/quota":
            self.say(render_quota(await self._engine.quota(self.actor)))
        elif name == "/usage":
            report = await self._engine.usage(self.actor, days=_days(args))
            self.say(render_usage(report))
            await self._save_chart(report, by="model")
        elif name == "/jobs":
            self.say(render_jobs(await self._engine.jobs(self.actor)))
        elif name == "/cancel":
            if not args:
                raise invalid("Which job?", "/cancel JOB, with an id from /jobs.")
            job = await self._engine.cancel(self.actor, args[0])
            self.say(f"Cancelling job {job.short_id}.")
        elif name == "/wait":
            await self.wait()
        elif name == "/admin":
            await self._admin_command(args, opts)
        else:
            hint = did_you_mean(name, COMMAND_NAMES)
            raise invalid(f"Unknown command `{name[:30]}`.{hint}", "See /help.")

    def _read(self, paths: list[str]) -> tuple[InputImage, ...]:
        if not paths:
            raise invalid(
                "Give the path of an image.", "For example /edit out/cat.png make it blue"
            )
        images = []
        for path in paths:
            try:
                data = Path(path).read_bytes()
            except OSError:
                raise invalid(f"I cannot read `{path}`.", "Check the path.") from None
            images.append(validate_image(data, max_bytes=self._max_input_bytes))
        return tuple(images)

    async def _submit(
        self,
        kind: JobKind,
        opts: dict[str, Any],
        *,
        prompt: str | None,
        images: tuple[InputImage, ...] = (),
    ) -> None:
        command = Generate.typed(kind, opts, prompt=prompt).with_images(images, flagged=False)
        done = asyncio.Event()
        reply = ConsoleReply(
            job_label="new", terminal=self._terminal, out_dir=self._out_dir, done=done
        )
        job = await self._engine.submit(command, reply, actor=self.actor)
        reply.label = job.short_id
        self.replies.append(reply)

    async def _save_chart(self, report: UsageReport, *, by: Literal["model", "user_id"]) -> None:
        """Draw the usage chart off the event loop and save it under the output folder."""
        labels = {self.actor.user_id: self.actor.name or self.actor.user_id}
        png = await asyncio.to_thread(
            usage_chart_png, report, by=by, labels=labels, workspace="this console"
        )
        path = self._out_dir / f"{file_stem(report)}.png"
        await asyncio.to_thread(_write, path, png)
        self.say(f"saved {path}")

    async def _admin_command(self, args: list[str], opts: dict[str, Any]) -> None:
        a = self._admin
        words = [w.lower() for w in args[:2]]
        match words, args[2:]:
            case ["quota", "set"], [target, capacity, refill]:
                scope = QuotaScope(opts.get("scope", "user"))
                self.say(
                    render_admin(await a.quota_set(self.actor, target, capacity, refill, scope))
                )
            case ["quota", "show"], [target]:
                self.say(render_admin(await a.quota_show(self.actor, target)))
            case ["budget", "set"], [daily, monthly]:
                self.say(render_admin(await a.budget_set(self.actor, daily, monthly)))
            case ["models", "allow"], [model]:
                self.say(render_admin(await a.models_allow(self.actor, model)))
            case ["models", "deny"], [model]:
                self.say(render_admin(await a.models_deny(self.actor, model)))
            case ["ban", user], []:
                self.say(render_admin(await a.ban(self.actor, user)))
            case ["unban", user], []:
                self.say(render_admin(await a.unban(self.actor, user)))
            case ["usage", *rest], []:
                report = await a.usage(self.actor, days=_days(rest))
                self.say(render_usage(report))
                await self._save_chart(report, by="user_id")
                if opts.get("csv"):
                    path = self._out_dir / f"{file_stem(report)}.csv"
                    await asyncio.to_thread(_write, path, usage_csv(report).encode())
                    self.say(f"saved {path}")
            case ["refund", job], []:
                self.say(render_admin(await a.refund(self.actor, job)))
            case ["nsfw", mode], []:
                self.say(render_admin(await a.nsfw_set(self.actor, mode)))
            case _:
                raise invalid("I did not understand that admin command.", "See /help.")


def _days(args: list[str]) -> int:
    if not args:
        return 30
    try:
        days = int(args[0])
    except ValueError:
        raise invalid("The period is a number of days, like 7.") from None
    if not 1 <= days <= 366:
        raise invalid("The period is 1 to 366 days.")
    return days


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
