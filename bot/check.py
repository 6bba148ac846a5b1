"""`falbot check`: each setting ok, missing or malformed, and what will start. No secret shown."""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from bot.settings import Settings, check_base_url

Check = Callable[[str], str | None]  # the value → None when well-formed, else what is wrong

_SHAPES: dict[str, tuple[str, str]] = {
    # name: (regex, what it should look like)
    "DISCORD_TOKEN": (r"^[\w-]{20,}\.[\w-]{4,}\.[\w-]{20,}$", "three dot-separated parts"),
    "SLACK_BOT_TOKEN": (r"^xoxb-[\w-]+$", "xoxb-…"),
    "SLACK_APP_TOKEN": (r"^xapp-[\w-]+$", "xapp-…"),
    "SLACK_SIGNING_SECRET": (r"^[0-9a-f]{32}$", "32 hex digits"),
    "FAL_KEY": (r"^[\w-]+(:[\w-]+)?$", "key-id:key-secret"),
}
_URLS = [
    "FALBOT_PUBLIC_URL",
    "FALBOT_DISCORD_API_URL",
    "FALBOT_SLACK_API_URL",
    "FALBOT_FAL_QUEUE_URL",
    "FALBOT_FAL_REST_URL",
    "FALBOT_FAL_CDN_URL",
]


def _shape(name: str) -> Check:
    pattern, looks = _SHAPES[name]
    return lambda v: None if re.match(pattern, v) else f"does not look like {looks}"


def _url(value: str) -> str | None:
    try:
        check_base_url(value)
    except ValueError:
        return "must be https (http only for loopback)"
    return None


def _database(value: str) -> str | None:
    if not value.startswith("sqlite:///"):
        return "must look like sqlite:///path/to/falbot.db"
    path = Path(value.removeprefix("sqlite:///"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sqlite3.connect(path).close()
    except (OSError, sqlite3.Error) as exc:
        return f"not writable ({type(exc).__name__})"
    return None


def run_check(out: TextIO, env: dict[str, str] | None = None) -> int:
    """Print one line per setting; exit 1 when something is malformed or nothing can start."""
    env = dict(os.environ if env is None else env)
    bad = False
    rows: list[tuple[str, str, str]] = []
    for name in _SHAPES:
        value = env.get(name, "")
        problem = _shape(name)(value) if value else None
        rows.append(
            (name, "missing" if not value else "malformed" if problem else "ok", problem or "")
        )
        bad |= bool(problem)
    for name in _URLS:
        value = env.get(name, "")
        problem = _url(value) if value else None
        rows.append(
            (
                name,
                "unset (real host)" if not value else "malformed" if problem else "ok",
                problem or "",
            )
        )
        bad |= bool(problem)
    db = env.get("FALBOT_DATABASE", "sqlite:///data/falbot.db")
    problem = _database(db)
    rows.append(("FALBOT_DATABASE", "malformed" if problem else "ok", problem or db))
    bad |= bool(problem)
    try:
        Settings(
            **{
                k: v
                for k, v in env.items()
                if k.startswith(("FALBOT_", "FAL_", "DISCORD_", "SLACK_"))
            }
        )
    except ValidationError as exc:
        bad = True
        for err in exc.errors():
            rows.append(
                (
                    str(err["loc"][0]).upper(),
                    "malformed",
                    str(err["msg"]).removeprefix("Value error, ")[:120],
                )
            )
    for name, state, detail in rows:
        out.write(f"{name:24} {state:18} {detail}\n")
    starts = []
    if env.get("DISCORD_TOKEN"):
        starts.append("Discord")
    if env.get("SLACK_BOT_TOKEN") and env.get("SLACK_SIGNING_SECRET"):
        starts.append("Slack (Socket Mode)" if env.get("SLACK_APP_TOKEN") else "Slack (HTTP)")
    if not env.get("FAL_KEY"):
        out.write("FAL_KEY is missing: no job can run.\n")
        bad = True
    out.write(f"falbot run will start: {', '.join(starts) or 'nothing (set a platform token)'}\n")
    return 1 if bad or not starts else 0
