"""Slack's side of the text grammar: its escapes and mentions (the grammar itself is tested in
tests/unit/adapters/test_text_commands.py)."""

from __future__ import annotations

from adapters.slack.mentions import mention_text
from adapters.slack.options import parse, slack_id

ALLOWED = frozenset({"model", "aspect_ratio", "num_images", "seed", "generate_audio", "duration"})
USAGE = "`/imagine <prompt> [--model m]`"


def test_slack_escapes_are_undone_in_the_prompt() -> None:
    parsed = parse("cats &amp; dogs &lt;3", allowed=ALLOWED, usage=USAGE)
    assert parsed.prompt == "cats & dogs <3"


def test_slack_ids_from_escaped_mentions() -> None:
    assert slack_id("<@U123ABC|ann>") == "U123ABC"
    assert slack_id("<@U123ABC>") == "U123ABC"
    assert slack_id("U123ABC") == "U123ABC"
    assert slack_id("@U123ABC") == "U123ABC"


def test_the_bots_own_mention_is_removed() -> None:
    assert mention_text("<@UBOT> make <@UANN> taller", "UBOT") == "make <@UANN> taller"
    assert mention_text("hey <@UBOT|falbot> upscale", "UBOT") == "hey upscale"
    assert mention_text("<@UBOT> upscale", None) == "upscale"
