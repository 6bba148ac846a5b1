"""Command text → words and options (pure; no Slack needed)."""

from __future__ import annotations

import pytest

from adapters.slack.mentions import mention_text
from adapters.slack.options import parse, parse_days, slack_id
from core.errors import BotError, ErrorCode

ALLOWED = frozenset({"model", "aspect_ratio", "num_images", "seed", "generate_audio", "duration"})
USAGE = "`/imagine <prompt> [--model m]`"


def test_words_and_options_in_any_order() -> None:
    parsed = parse(
        "--model flux-dev a red fox --aspect 16:9 in snow --count=2", allowed=ALLOWED, usage=USAGE
    )
    assert parsed.prompt == "a red fox in snow"
    assert parsed.options == {"model": "flux-dev", "aspect_ratio": "16:9", "num_images": 2}


def test_dashes_that_slack_clients_autocorrect() -> None:
    parsed = parse("a fox —model flux-dev –seed 12", allowed=ALLOWED, usage=USAGE)
    assert parsed.options == {"model": "flux-dev", "seed": 12}


def test_slack_escapes_are_undone_in_the_prompt() -> None:
    parsed = parse("cats &amp; dogs &lt;3", allowed=ALLOWED, usage=USAGE)
    assert parsed.prompt == "cats & dogs <3"


def test_flags_and_durations() -> None:
    parsed = parse("waves --audio --duration 8s", allowed=ALLOWED, usage=USAGE)
    assert parsed.options == {"generate_audio": True, "duration": 8}
    assert parse("x --audio no", allowed=ALLOWED, usage=USAGE).options == {"generate_audio": False}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a fox --colour red", "I don't know the option `--colour`"),
        ("a fox --model", "`--model` needs a value"),
        ("a fox --model --seed 3", "`--model` needs a value"),
        ("a fox --seed 1 --seed 2", "`--seed` is given twice"),
    ],
)
def test_usage_errors(text: str, problem: str) -> None:
    with pytest.raises(BotError) as caught:
        parse(text, allowed=ALLOWED, usage=USAGE)
    assert caught.value.code is ErrorCode.INVALID_INPUT
    assert problem in caught.value.message
    assert caught.value.hint == f"Usage: {USAGE}"


def test_a_hyphenated_word_is_not_an_option() -> None:
    parsed = parse("a state-of-the-art robot -- very shiny", allowed=ALLOWED, usage=USAGE)
    assert parsed.prompt == "a state-of-the-art robot -- very shiny"
    assert parsed.options == {}


@pytest.mark.parametrize(("text", "days"), [("", 30), ("7", 7), ("14d", 14), ("week", 7)])
def test_days(text: str, days: int) -> None:
    assert parse_days(text, usage="u") == days


@pytest.mark.parametrize("text", ["0", "400", "soon", "-3"])
def test_bad_days(text: str) -> None:
    with pytest.raises(BotError):
        parse_days(text, usage="u")


def test_slack_ids_from_escaped_mentions() -> None:
    assert slack_id("<@U123ABC|ann>") == "U123ABC"
    assert slack_id("<@U123ABC>") == "U123ABC"
    assert slack_id("U123ABC") == "U123ABC"
    assert slack_id("@U123ABC") == "U123ABC"


def test_the_bots_own_mention_is_removed() -> None:
    assert mention_text("<@UBOT> make <@UANN> taller", "UBOT") == "make <@UANN> taller"
    assert mention_text("hey <@UBOT|falbot> upscale", "UBOT") == "hey upscale"
    assert mention_text("<@UBOT> upscale", None) == "upscale"
