"""`falbot check`: every setting as ok, default, missing or malformed, and what `falbot run` will
start. A secret's value is never printed, not even when it is malformed."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import SecretStr, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bot.logging_setup import SecretFilter
from bot.settings import (
    POSTGRES_SCHEMES,
    DiscordShards,
    Settings,
    parse_shards,
    pricing_off_reason,
    shards_alone,
)

_SHAPES: dict[str, tuple[str, str]] = {
    # name: (regex, what it should look like)
    "FAL_KEY": (r"^[\w-]+:[\w-]+$", "key-id:key-secret"),
    "DISCORD_TOKEN": (r"^[\w-]{20,}\.[\w-]{4,}\.[\w-]{20,}$", "three dot-separated parts"),
    "SLACK_BOT_TOKEN": (r"^xoxb-[\w-]+$", "xoxb-…"),
    "SLACK_APP_TOKEN": (r"^xapp-[\w-]+$", "xapp-…"),
    "SLACK_SIGNING_SECRET": (r"^[0-9a-f]{32}$", "32 hex digits"),
}
_NEEDED_FOR = {
    "FAL_KEY": "every job",
    "DISCORD_TOKEN": "Discord",
    "SLACK_BOT_TOKEN": "Slack",
    "SLACK_SIGNING_SECRET": "Slack over HTTP",
    "SLACK_APP_TOKEN": "Slack Socket Mode",
}
_SQLITE_MAGIC = b"SQLite format 3\x00"


class _GivenOnly(Settings):
    """The settings validated from the given values alone (no environment, no .env)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def run_check(
    out: TextIO, env: Mapping[str, str] | None = None, *, env_file: Path | None = Path(".env")
) -> int:
    """Print one line per setting; 1 when something is malformed, FAL_KEY is missing or no
    platform would start, else 0."""
    values = _values(env, env_file)
    fields = Settings.model_fields
    problems = _validation_problems(values)
    secrets = [values[_alias(f)] for f in fields.values() if _is_secret(f) and _alias(f) in values]
    rows: list[tuple[str, str, str]] = []
    for info in fields.values():
        name = _alias(info)
        rows.append(_row(name, info, values.get(name), problems.get(name)))
    starts = _starts(values)
    mask = SecretFilter(secrets)
    for name, state, detail in rows:
        out.write(mask.mask(f"{name:32} {state:10} {detail}".rstrip()) + "\n")
    out.write(f"falbot run will start: {', '.join(starts) or 'nothing (set a platform token)'}\n")
    slack_half_set = "SLACK_BOT_TOKEN" in values and not any("Slack" in s for s in starts)
    if slack_half_set:
        out.write(
            "Slack will not start: SLACK_BOT_TOKEN needs SLACK_SIGNING_SECRET (HTTP mode) or "
            "SLACK_APP_TOKEN (Socket Mode); `falbot run` refuses to start until one is set\n"
        )
    shards = _shards(values)
    alone = shards_alone(shards, values.get("FALBOT_DATABASE", _default("FALBOT_DATABASE")))
    if alone is not None and "DISCORD_TOKEN" in values:
        out.write(alone + "\n")
    out.write(f"prices: {_prices(values)}\n")
    bad = any(state == "malformed" for _, state, _ in rows) or "FAL_KEY" not in values
    return 1 if bad or slack_half_set or not starts else 0


def _values(env: Mapping[str, str] | None, env_file: Path | None) -> dict[str, str]:
    """What `falbot run` sees: the environment over the .env file, empty values left out."""
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if env is None else env)
    names = {_alias(f) for f in Settings.model_fields.values()}
    return {k: v for k, v in values.items() if k in names and v != ""}


def _validation_problems(values: Mapping[str, str]) -> dict[str, str]:
    try:
        _GivenOnly.model_validate(dict(values))
    except ValidationError as exc:
        found: dict[str, str] = {}
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "settings"
            message = str(err["msg"]).removeprefix("Value error, ")
            raw = values.get(name)
            if raw:
                # Our own validators quote the value; say "the value" instead.
                # Whole values only: a short one ("0") must not eat into the message's text.
                message = message.replace(repr(raw), "the value")
                alone = rf"(?<![\w/.:-]){re.escape(raw)}(?![\w/.:-])"
                message = re.sub(alone, "the value", message)
            found.setdefault(name, message[:120])
        return found
    return {}


def _row(name: str, info: FieldInfo, raw: str | None, problem: str | None) -> tuple[str, str, str]:
    secret = _is_secret(info)
    if raw is None and name == "FALBOT_DATABASE":
        problem = _database_problem(str(info.default))
        if problem is not None:
            return name, "malformed", f"the default: {problem}"
    if raw is None:
        if secret:
            return name, "missing", f"needed for {_NEEDED_FOR.get(name, 'this feature')}"
        return name, "default", _shown(info.default)
    if secret and name in _SHAPES:
        pattern, looks = _SHAPES[name]
        problem = problem or (None if re.match(pattern, raw) else f"does not look like {looks}")
    if name == "FALBOT_DATABASE" and problem is None:
        problem = _database_problem(raw)
    if problem is not None:
        return name, "malformed", problem
    return name, "ok", "set (hidden)" if secret else _shown(raw)


def _database_problem(value: str) -> str | None:
    """None when the SQLite file (or the folder it will be made in) can be written, or the
    PostgreSQL URL names a host and a database (it is not connected to here)."""
    if value.startswith(POSTGRES_SCHEMES):
        return _postgres_problem(value)
    if not value.startswith("sqlite:///"):
        return "must look like sqlite:///path/to/falbot.db or postgresql://user@host:5432/falbot"
    path = Path(value.removeprefix("sqlite:///"))
    if path.is_dir():
        return f"{path} is a folder"
    if path.exists():
        try:
            with path.open("r+b") as file:  # opened for writing, nothing written
                head = file.read(len(_SQLITE_MAGIC))
        except OSError as exc:
            return f"{path} is not writable ({exc.strerror})"
        if head and head != _SQLITE_MAGIC:
            return f"{path} is not a SQLite database"
        return None
    folder = path.parent
    while not folder.exists():  # the nearest folder that exists is where it will be made
        folder = folder.parent
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return f"cannot create {path} in {folder} ({exc.strerror})"
    return None


def _postgres_problem(value: str) -> str | None:
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 (it raises on a port that is not a number)
    except ValueError:
        return "the port is not a number: postgresql://user@host:5432/falbot"
    if not parts.hostname:
        return "names no host: postgresql://user@host:5432/falbot"
    if parts.path.strip("/") == "":
        return "names no database: postgresql://user@host:5432/falbot"
    return None


def _starts(values: Mapping[str, str]) -> list[str]:
    starts: list[str] = []
    if "DISCORD_TOKEN" in values:
        shards = _shards(values)
        starts.append("Discord" if shards is None else f"Discord (shards {shards})")
    # As `falbot run` decides (bot.run.slack_mode): Socket Mode needs no signing secret.
    if "SLACK_BOT_TOKEN" in values and "SLACK_APP_TOKEN" in values:
        starts.append("Slack (Socket Mode)")
    elif "SLACK_BOT_TOKEN" in values and "SLACK_SIGNING_SECRET" in values:
        starts.append("Slack (HTTP)")
    host = values.get("FALBOT_HTTP_HOST", Settings.model_fields["http_host"].default)
    port = values.get("FALBOT_HTTP_PORT", Settings.model_fields["http_port"].default)
    if starts:
        routes = ["/healthz", "/metrics"]
        if starts[-1] == "Slack (HTTP)":
            routes.append("/slack/events")
        if values.get("FALBOT_PUBLIC_URL"):  # fal's webhooks and Edit region's page
            routes += ["/fal/webhook", "/paint/…"]
        starts.append(f"the HTTP server on {host}:{port} ({' '.join(routes)})")
    return starts


def _shards(values: Mapping[str, str]) -> DiscordShards | None:
    """FALBOT_DISCORD_SHARDS when it is set and well formed (a malformed one is reported)."""
    try:
        raw = values.get("FALBOT_DISCORD_SHARDS")
        return parse_shards(raw) if raw else None
    except ValueError:
        return None


def _default(name: str) -> str:
    return str(next(f.default for f in Settings.model_fields.values() if f.alias == name))


def _prices(values: Mapping[str, str]) -> str:
    """Where `falbot run` will take its prices from."""
    try:
        refresh = TypeAdapter(bool).validate_python(values.get("FALBOT_PRICING_REFRESH", True))
    except ValidationError:
        refresh = True  # reported malformed above; `falbot run` would not start
    api_url = values.get("FALBOT_FAL_API_URL")
    fal_hosts = ("FALBOT_FAL_QUEUE_URL", "FALBOT_FAL_REST_URL", "FALBOT_FAL_CDN_URL")
    off = pricing_off_reason(
        refresh=refresh,
        api_url=api_url,
        fal_hosts_overridden=any(name in values for name in fal_hosts),
    )
    if off is not None:
        return f"the built-in table ({off})"
    where = _shown(api_url) if api_url else "https://api.fal.ai"
    return f"fal's pricing API at {where}, read at start (the built-in table if it fails)"


def _alias(info: FieldInfo) -> str:
    assert info.alias is not None, "every setting has its environment name as alias"
    return info.alias


def _is_secret(info: FieldInfo) -> bool:
    return "SecretStr" in str(info.annotation) or info.annotation is SecretStr


def _shown(value: Any) -> str:
    """A non-secret value as printed: URLs without credentials, query or fragment."""
    if value is None:
        return "unset"
    text = str(value)
    parts = urlsplit(text)
    if parts.scheme and parts.hostname:
        try:
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            port = ":?"
        return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"[:80]
    return text[:80]
