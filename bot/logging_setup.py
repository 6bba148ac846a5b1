"""Logging for the whole process: one JSON line per record, secrets masked."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

MASK = "***"
# The region painter's private links (`/paint/<token>`): a library that logs a message it sends
# (slack_sdk logs a response_url's body at DEBUG) would otherwise log the token with it.
PAINT_LINK = re.compile(r"(/paint/)[A-Za-z0-9_-]{16,}")


class SecretFilter(logging.Filter):
    """Replaces every known secret value, and every painter link's token, in a record's message
    and fields with `***`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return PAINT_LINK.sub(r"\g<1>" + MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        # Every record, secrets known or not: a painter link may turn up in any of them.
        record.msg = self.mask(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.mask(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, mask: SecretFilter | None = None) -> None:
        super().__init__()
        self._mask = mask

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "falbot", None)
        if isinstance(fields, dict):
            data.update(fields)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exc"] = record.exc_text
        line = json.dumps(data, default=str, ensure_ascii=False)
        return self._mask.mask(line) if self._mask else line


def log_handler(
    *, secrets: Iterable[str], stream: TextIO | None = None, path: Path | None = None
) -> logging.Handler:
    """falbot's handler: JSON lines to `stream` (stderr) or appended to the file at `path`,
    secrets and painter links masked."""
    mask = SecretFilter(secrets)
    handler: logging.Handler
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(mask)
    handler.setFormatter(JsonFormatter(mask))
    return handler


def configure_logging(
    *,
    secrets: Iterable[str],
    debug: bool = False,
    level: str | None = None,
    stream: TextIO | None = None,
    path: Path | None = None,
) -> None:
    """Configure the root logger once, at the entry point: JSON lines to `stream` (stderr), or
    appended to the file at `path`. `level` is a name (`info`); `debug` means `debug`."""
    handler = log_handler(secrets=secrets, stream=stream, path=path)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else getattr(logging, (level or "info").upper()))
    logging.captureWarnings(True)  # a library's warnings are log lines too, not stray stderr
    # A JSON line names its logger, not the file, line, thread or process it came from: the
    # logging module's documented switches ("Optimization" in the logging HOWTO) spare every
    # record looking them up (the caller's frame is found by walking the stack).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # These log request URLs at DEBUG, and a Discord interaction URL carries its token.
    for noisy in (
        "httpx",
        "httpcore",
        "aiosqlite",
        "discord.http",
        "discord.gateway",
        "discord.webhook.async_",
        "discord.webhook",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
