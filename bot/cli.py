"""The `falbot` command: run, demo, check, models, sync-commands, migrate-db."""

from __future__ import annotations

import argparse
import asyncio
import difflib
import errno
import logging
import re
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.logging_setup import configure_logging
from bot.settings import Settings

PLATFORM_HELP = """\
No chat platform is configured, so there is nothing to run. Set one of:
  Discord: DISCORD_TOKEN
  Slack:   SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (HTTP mode),
           or SLACK_BOT_TOKEN and SLACK_APP_TOKEN (Socket Mode)
and FAL_KEY for fal. `falbot check` shows what is set; `falbot demo` needs none of them."""
SLACK_HALF_SET = (
    "SLACK_BOT_TOKEN is set, but Slack also needs SLACK_SIGNING_SECRET (HTTP mode) or "
    "SLACK_APP_TOKEN (Socket Mode): set one, or unset SLACK_BOT_TOKEN."
)
log = logging.getLogger(__name__)


def falbot_version() -> str:
    try:
        return version("falbot")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


class _Parser(argparse.ArgumentParser):
    """argparse, with "did you mean" for a mistyped command or option."""

    def error(self, message: str) -> Any:
        choice = re.search(r"invalid choice: '([^']*)'", message)
        unknown = re.search(r"unrecognized arguments: (\S+)", message)
        if choice is not None:
            message += _suggest(choice.group(1), self._choices())
        elif unknown is not None:
            message += _suggest(unknown.group(1), self._options())
        super().error(message)

    def _choices(self) -> list[str]:
        found: list[str] = []
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                found += list(action.choices)
        return found

    def _options(self) -> list[str]:
        found = [o for a in self._actions for o in a.option_strings]
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                for parser in action.choices.values():
                    found += [o for a in parser._actions for o in a.option_strings]
        return found


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last guard: a person never gets a traceback
        log.exception("falbot stopped on an unexpected error")
        print(
            f"falbot stopped on an unexpected error ({type(exc).__name__}); the log has the "
            "details. Please report it.",
            file=sys.stderr,
        )
        return 1


def _main(argv: list[str] | None) -> int:
    parser = _Parser(prog="falbot", description=__doc__)
    parser.add_argument("--version", action="version", version=f"falbot {falbot_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("run", help="run the configured chat platforms")
    demo = sub.add_parser("demo", help="the whole flow in this terminal, no credentials")
    demo.add_argument("--script", type=Path, help="run the commands in FILE and exit")
    demo.add_argument("--latency", type=float, default=0.3, help="simulated fal time (s)")
    demo.add_argument(
        "--verbose", action="store_true", help="show the logs here (else in data/demo.log)"
    )
    sub.add_parser("check", help="report each setting as ok, missing or malformed")
    sub.add_parser("models", help="the model catalog with prices")
    sync = sub.add_parser("sync-commands", help="register Discord's slash commands")
    sync.add_argument("--guild", help="register in one guild (instant) instead of globally")
    sync.add_argument(
        "--clear", action="store_true", help="with --guild: remove that guild's copies"
    )
    migrate = sub.add_parser(
        "migrate-db", help="copy falbot's SQLite database into an empty PostgreSQL database"
    )
    migrate.add_argument(
        "--from", dest="source", required=True, metavar="sqlite:///FILE", help="the SQLite file"
    )
    migrate.add_argument(
        "--to", dest="target", required=True, metavar="postgresql://…", help="an empty database"
    )
    args = parser.parse_args(argv)

    if args.command == "models":
        return _models()
    if args.command == "check":
        from bot.check import run_check

        return run_check(sys.stdout)
    if args.command == "migrate-db":  # needs no settings: both databases are on its line
        from bot.migrate_db import migrate_db

        return migrate_db(args.source, args.target)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(_settings_problem(exc), file=sys.stderr)
        return 2
    if args.command == "demo":
        return _demo(args, settings)
    configure_logging(
        secrets=settings.secrets(), debug=settings.debug, level=settings.effective_log_level
    )
    if args.command == "run":
        return _run(settings)
    if args.command == "sync-commands":
        from bot.run import sync_commands

        if settings.fal_key is None:
            print(FAL_KEY_MISSING, file=sys.stderr)
            return 2
        if args.clear and not args.guild:
            print("--clear removes one guild's copies: give it --guild ID.", file=sys.stderr)
            return 2
        return asyncio.run(sync_commands(settings, guild=args.guild, clear=args.clear))
    return 2


FAL_KEY_MISSING = (
    "FAL_KEY is not set: set it to your fal API key (https://fal.ai/dashboard/keys); "
    "`falbot check` shows every setting."
)


def _run(settings: Settings) -> int:
    from bot.run import StartFailed, run, slack_mode

    slack_half_set = settings.slack_bot_token is not None and slack_mode(settings) is None
    if slack_half_set:
        print(SLACK_HALF_SET, file=sys.stderr)
        return 2
    if not settings.discord_token and not settings.slack_bot_token:
        print(PLATFORM_HELP, file=sys.stderr)
        return 2
    if settings.fal_key is None:
        print(FAL_KEY_MISSING, file=sys.stderr)
        return 2
    try:
        with _runner() as runner:
            return runner.run(run(settings))
    except StartFailed as failed:
        print(str(failed), file=sys.stderr)
        return 1
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        where = f"{settings.http_host}:{settings.http_port}"
        print(
            f"{where} is already in use: stop what listens there, or set FALBOT_HTTP_PORT to a "
            "free port.",
            file=sys.stderr,
        )
        return 1


def _runner() -> asyncio.Runner:
    """The event loop `falbot run` serves on: uvloop's where it is installed (it takes about a
    millisecond of CPU off each job's dozen network round trips), else asyncio's own."""
    try:
        import uvloop
    except ImportError:  # not built for this platform (Windows)
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from bot.demo import DATA_DIR, run_demo

    script: list[str] | None = None
    if args.script is not None:
        try:
            script = args.script.read_text().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not text"
            print(f"falbot demo: cannot read the script {args.script} ({why}).", file=sys.stderr)
            return 2
    logs = None if args.verbose else DATA_DIR / "demo.log"
    configure_logging(
        secrets=settings.secrets(),
        debug=settings.debug,
        level=settings.effective_log_level,
        path=logs,
    )
    interactive = script is None and sys.stdin.isatty()
    return asyncio.run(run_demo(script=script, interactive=interactive, latency=args.latency))


def _models() -> int:
    from core.model_table import build_catalog

    for spec in build_catalog().all():
        print(f"{spec.name:22} {spec.kind.value:8} {spec.endpoint:42} {spec.price_text}")
    return 0


def _settings_problem(exc: ValidationError) -> str:
    # Only field names and our own messages: a malformed value may be a secret.
    lines = ["Some settings are malformed:"]
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"])
        lines.append(f"  {name}: {str(err['msg']).removeprefix('Value error, ')[:200]}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
