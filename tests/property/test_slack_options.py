"""Slack command text from hostile users: `--options` parse into known option names with values
core can check, or are refused with `invalid_input` and the usage line; never anything else."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from adapters.console.session import VERBS, read_line
from adapters.slack.options import parse, slack_id
from adapters.text_commands.grammar import parse_days
from core.errors import BotError, ErrorCode
from tests.property.strategies import any_text, tricky_text

ALLOWED = frozenset({"model", "aspect_ratio", "num_images", "seed", "duration", "generate_audio"})
tokens = st.one_of(
    tricky_text,
    st.sampled_from(["--model", "--count", "—aspect", "–seed", "--audio", "--n=3", "--duration"]),
    st.from_regex(r"--[a-z_-]{1,12}(=.{0,8})?", fullmatch=True),
)
texts = st.one_of(any_text, st.lists(tokens, max_size=8).map(" ".join))


@example(text="--seed " + "9" * 5000 + " a fox")
@example(text="--seed ² a fox")
@given(text=texts)
def test_command_text_parses_into_known_options_or_is_refused(text: str) -> None:
    try:
        parsed = parse(text, allowed=ALLOWED, usage="`/imagine <prompt>`")
    except BotError as error:
        assert error.code is ErrorCode.INVALID_INPUT
        assert "/imagine" in error.hint
        return
    assert set(parsed.options) <= ALLOWED
    for value in parsed.options.values():
        assert isinstance(value, str | bool | int)


@example(text="²")
@example(text="9" * 5000)
@given(text=st.one_of(tricky_text, st.from_regex(r"\s*\d{1,6}\s*(d|day|days)?\s*", fullmatch=True)))
def test_a_number_of_days_is_1_to_366_or_refused(text: str) -> None:
    try:
        days = parse_days(text, usage="`/usage [days]`")
    except BotError as error:
        assert error.code is ErrorCode.INVALID_INPUT
        return
    assert 1 <= days <= 366


@given(token=any_text)
def test_a_user_mention_gives_an_id_without_slack_markup(token: str) -> None:
    found = slack_id(token)
    assert "<" not in found or "<" in token.strip().lstrip("@")


@given(text=texts, verb=st.sampled_from(["/imagine", "/video", "/edit", "/upscale", "/admin"]))
def test_a_console_line_reads_as_the_same_grammar_or_is_refused(text: str, verb: str) -> None:
    """The console reads the same grammar (with shell quoting): known options with values
    core can check, or a clear `invalid_input`; never a traceback."""
    try:
        line = read_line(f"{verb} {text}")
    except BotError as error:
        assert error.code is ErrorCode.INVALID_INPUT
        return
    allowed = set() if verb == "/admin" else set(VERBS[verb].options)  # /admin reads its own
    assert set(line.parsed.options) <= allowed
