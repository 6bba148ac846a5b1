"""A terminal chat on the same engine as Discord and Slack: one admin user, typed commands."""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from adapters.console.reply import ConsoleReply, console_text, now
from adapters.console.terminal import Terminal
from adapters.text_commands import verbs
from adapters.text_commands.admin import AdminCommand, admin_usage, read_admin, run_admin
from adapters.text_commands.grammar import Parsed, did_you_mean, parse, parse_days
from adapters.text_commands.job_verbs import RESULT_VERBS, read_job_verb
from adapters.text_commands.settings import read_settings
from adapters.usage_chart import file_stem, usage_chart_png, usage_csv
from core.admin import AdminService
from core.blend import blend_command
from core.commands import Cancel, Command, Generate
from core.confirmations import QuoteFirst
from core.engine import Engine
from core.errors import BotError, invalid
from core.jobs import ANY_CHANNEL, Actor, InputImage, JobKind
from core.media import validate_image
from core.painting import Painter, link_text
from core.render import (
    render_error,
    render_jobs,
    render_models,
    render_quota,
    render_usage,
)
from core.settings_view import render_settings
from core.usage import UsageReport

# The console's own words for the verbs that take images: paths, where Slack attaches a file.
_ARGS = {
    "edit": "<image path>… <what to change>",
    "upscale": "<image path>",
    "describe": "<image path>",
    "blend": "<image path> <image path>… [prompt]",
}
VERBS = {
    f"/{v.name}": v
    for v in (
        *verbs.JOB_VERBS,
        *verbs.IMAGE_VERBS,
        *RESULT_VERBS,
        *verbs.ACCOUNT_VERBS,
        verbs.SETTINGS,
    )
}
_SETTINGS_CHANGE = (
    "Change one with `/settings aspect 16:9` (model, aspect, count, remix, private; `default`"
    " clears one); `/settings reset` puts back the defaults."
)
_OWN = ("/wait", "/confirm", "/decline", "/quit")  # the console's own commands
ADMIN_OPTIONS = frozenset({"scope", "csv"})
COMMAND_NAMES = (*VERBS, "/admin", *_OWN)
HELP = "\n".join(
    [
        *(v.usage(args=_ARGS.get(v.name)) for v in VERBS.values()),
        "`/edit region <job> [<image>]` (a link to paint the region to change)",
        *(f"`{name}`" for name in _OWN),
        "`/confirm` or `/decline` answers the last price quote (jobs above the threshold).",
        admin_usage("/", allowed=ADMIN_OPTIONS),
        "A line starting with ! expects the command to fail (for scripts).",
    ]
)


@dataclass(frozen=True)
class Line:
    """A command line read: the command's name, its words and options."""

    name: str
    parsed: Parsed


def read_line(line: str) -> Line:
    """The command and its words and `--options` (the shared grammar); a clear error for a
    malformed line, an unknown command or an option the command does not take."""
    try:
        tokens = shlex.split(line)
    except ValueError as exc:
        raise invalid(f"I could not read that line: {exc}.", "Check your quotes.") from None
    if not tokens:
        raise invalid("Type a command.", "See /help.")
    name = tokens[0].lower()
    if name == "/admin" or name in _OWN:
        return Line(name, Parsed(tuple(tokens[1:])))  # /admin reads its own options
    verb = VERBS.get(name)
    if verb is None:
        hint = did_you_mean(name, COMMAND_NAMES)
        raise invalid(f"Unknown command `{name[:30]}`.{hint}", "See /help.")
    usage = verb.usage(args=_ARGS.get(verb.name))
    return Line(name, parse(tokens[1:], allowed=verb.options, usage=usage))


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
        painter: Painter | None = None,
    ) -> None:
        self._engine = engine
        self._admin = admin
        self._terminal = terminal
        self._out_dir = out_dir
        self._max_input_bytes = max_input_bytes
        self._painter = painter
        self.actor = Actor("console", "console", user_id, is_admin=True, name="you")
        self.replies: list[ConsoleReply] = []
        self._quote: str | None = None  # the last quote shown, for /confirm and /decline

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
            await self._dispatch(read_line(line))
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

    async def _dispatch(self, line: Line) -> None:
        name, args, opts = line.name, list(line.parsed.words), dict(line.parsed.options)
        if name == "/help":
            self.say(HELP)
        elif name == "/imagine":
            await self._submit(JobKind.IMAGE, opts, prompt=" ".join(args))
        elif name == "/video":
            await self._submit(JobKind.VIDEO, opts, prompt=" ".join(args))
        elif name == "/edit" and args[:1] == ["region"]:
            await self._edit_region(args[1:])
        elif name == "/edit":
            paths = _paths(args)
            prompt = " ".join(a for a in args if a not in paths)
            await self._submit(JobKind.EDIT, opts, prompt=prompt, images=self._read(paths))
        elif name == "/upscale":
            await self._submit(JobKind.UPSCALE, opts, prompt=None, images=self._read(args[:1]))
        elif name in ("/vary", "/zoom", "/pan", "/animate"):
            verb = VERBS[name]
            usage = verb.usage()
            await self._start(read_job_verb(verb, args, opts, usage=usage))
        elif name in ("/describe", "/blend"):
            await self._image_verb(name, args, opts)
        elif name == "/settings":
            await self._settings(args)
        elif name == "/models":
            self.say(render_models(await self._engine.models(self.actor.workspace_id)))
        elif name == "/quota":
            self.say(render_quota(await self._engine.quota(self.actor)))
        elif name == "/usage":
            days = parse_days(" ".join(args), usage=verbs.USAGE.usage())
            report = await self._engine.usage(self.actor, days=days)
            self.say(render_usage(report))
            await self._save_chart(report, by="model")
        elif name == "/jobs":
            self.say(render_jobs(await self._engine.jobs(self.actor)))
        elif name == "/cancel":
            if not args:
                raise invalid("Which job?", "/cancel JOB, with an id from /jobs.")
            job = await self._engine.cancel(Cancel(args[0]), actor=self.actor)
            self.say(f"Cancelling job {job.short_id}.")
        elif name in ("/confirm", "/decline"):
            await self._answer_quote(confirm=name == "/confirm")
        elif name == "/wait":
            await self.wait()
        elif name == "/admin":
            await self._admin_command(read_admin(args, prefix="/", allowed=ADMIN_OPTIONS))

    async def _edit_region(self, words: list[str]) -> None:
        """`/edit region JOB [IMAGE]`: a link to the region painter's page for that result."""
        usage = "/edit region JOB [IMAGE], with a job id from /jobs."
        if self._painter is None:
            raise invalid("Edit region is not available here.")
        if not words or len(words) > 2 or not all(w.isdigit() for w in words[1:]):
            raise invalid("Which result, and which of its images?", usage)
        image = int(words[1]) - 1 if len(words) == 2 else None
        if image is not None and image < 0:
            raise invalid("Images are counted from 1.", usage)
        job = await self._engine.find_job(self.actor, words[0])
        link = await self._painter.issue(
            actor=self.actor,
            channel=ANY_CHANNEL,
            job_id=job.id,
            image=image,
            place="the console",
            reply_ref={},
        )
        self.say(link_text(link, image=image, now=self._painter.now()))

    async def _image_verb(self, name: str, args: list[str], opts: dict[str, Any]) -> None:
        """`/describe PATH`; `/blend PATH PATH… [prompt]` (two to five images)."""
        paths = _paths(args)
        if name == "/describe":
            command = Generate(JobKind.DESCRIBE)
        else:
            prompt = " ".join(a for a in args if a not in paths)
            command = blend_command(opts, prompt=prompt)
        # The count is checked before any file is read: six images are refused, none decoded.
        await self._engine.precheck(command, actor=self.actor, images=max(1, len(paths)))
        await self._start(command.with_images(self._read(paths), flagged=False))

    async def _settings(self, args: list[str]) -> None:
        line = read_settings(args)
        book = self._engine.preferences
        if line.reset:
            settings = await book.reset(self.actor, scope=line.scope)
        elif line.changes:
            settings = await book.change(self.actor, line.changes, scope=line.scope)
        else:
            settings = await book.settings(self.actor)
        self.say(render_settings(settings, scope=line.scope, change=_SETTINGS_CHANGE))

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
        await self._start(command)

    async def _start(self, command: Command) -> None:
        done = asyncio.Event()
        reply = ConsoleReply(
            job_label="new", terminal=self._terminal, out_dir=self._out_dir, done=done
        )
        try:
            job = await self._engine.submit(command, reply, actor=self.actor)
        except QuoteFirst as first:
            self._quote = first.quote.id
            self.say(first.quote.text() + "\nType /confirm to start it, or /decline.")
            return
        reply.label = job.short_id
        self.replies.append(reply)

    async def _answer_quote(self, *, confirm: bool) -> None:
        if self._quote is None:
            raise invalid("There is no price quote to answer.", "Quotes come before big jobs.")
        quote_id = self._quote
        if not confirm:
            quote = await self._engine.quotes.take(quote_id, self.actor, confirmed=False)
            self.say(f"Cancelled: {quote.model} was not started, and nothing was taken.")
            return
        done = asyncio.Event()
        reply = ConsoleReply(
            job_label="new", terminal=self._terminal, out_dir=self._out_dir, done=done
        )
        job = await self._engine.confirm(quote_id, reply, actor=self.actor)
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

    async def _admin_command(self, command: AdminCommand) -> None:
        if command.words != ("usage",):
            result = await run_admin(self._admin, self.actor, command, person=str.strip)
            self.say(result)
            return
        report = await self._admin.usage(self.actor, days=command.days)
        self.say(render_usage(report))
        await self._save_chart(report, by="user_id")
        if command.options.get("csv"):
            path = self._out_dir / f"{file_stem(report)}.csv"
            await asyncio.to_thread(_write, path, usage_csv(report).encode())
            self.say(f"saved {path}")


def _paths(args: list[str]) -> list[str]:
    """The words of a line that name image files."""
    return [a for a in args if Path(a).suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".gif")]


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
