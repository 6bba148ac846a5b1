"""The `falbot` command: run, demo, check, models, sync-commands."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from pydantic import ValidationError

from bot.logging_setup import configure_logging
from bot.settings import Settings

PLATFORM_HELP = """\
No chat platform is configured, so there is nothing to run. Set one of:
  Discord: DISCORD_TOKEN
  Slack:   SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (HTTP mode),
           and SLACK_APP_TOKEN for Socket Mode
and FAL_KEY for fal. `falbot check` shows what is set; `falbot demo` needs none of them."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="falbot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the configured chat platforms")
    demo = sub.add_parser("demo", help="the whole flow in this terminal, no credentials")
    demo.add_argument("--script", type=Path, help="run the commands in FILE and exit")
    demo.add_argument("--latency", type=float, default=0.3, help="simulated fal time (s)")
    sub.add_parser("check", help="report each setting as ok, missing or malformed")
    sub.add_parser("models", help="the model catalog with prices")
    sync = sub.add_parser("sync-commands", help="register Discord's slash commands")
    sync.add_argument("--guild", help="register in one guild (instant) instead of globally")
    args = parser.parse_args(argv)

    if args.command == "models":
        return _models()
    if args.command == "check":
        from bot.check import run_check

        return run_check(sys.stdout)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(_settings_problem(exc), file=sys.stderr)
        return 2
    configure_logging(secrets=settings.secrets(), debug=settings.debug)
    if args.command == "demo":
        from bot.demo import run_demo

        script = args.script.read_text().splitlines() if args.script else None
        interactive = script is None and sys.stdin.isatty()
        return asyncio.run(run_demo(script=script, interactive=interactive, latency=args.latency))
    if args.command == "run":
        if not settings.discord_token and not settings.slack_bot_token:
            print(PLATFORM_HELP, file=sys.stderr)
            return 2
        if settings.fal_key is None:
            print("FAL_KEY is not set: falbot cannot run jobs without it.", file=sys.stderr)
            return 2
        from bot.run import run

        return asyncio.run(run(settings))
    if args.command == "sync-commands":
        from bot.run import sync_commands

        return asyncio.run(sync_commands(settings, guild=args.guild))
    return 2


def _models() -> int:
    from core.catalog import build_catalog

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
