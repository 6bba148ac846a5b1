"""Slack's side of the text grammar (`adapters.text_commands`): Slack escapes `&`, `<` and `>`
in the text it sends, and writes a user as `<@U123|ann>`."""

from __future__ import annotations

import html
import re
from collections.abc import Collection

from adapters.text_commands import grammar
from adapters.text_commands.grammar import Parsed


def unescape(text: str) -> str:
    """Slack escapes `&`, `<` and `>` in the text it sends; give the user's characters back."""
    return html.unescape(text)


def parse(text: str, *, allowed: Collection[str], usage: str) -> Parsed:
    """The words and `--options` of a Slack command's text (see `grammar.parse`)."""
    return grammar.parse(unescape(text).split(), allowed=allowed, usage=usage)


def slack_id(token: str) -> str:
    """`<@U123|ann>` (an escaped mention) or `U123` → `U123`."""
    match = re.fullmatch(r"<[@#!]?([A-Z0-9]+)(?:\|[^>]*)?>", token.strip())
    return match.group(1) if match else token.strip().lstrip("@")
