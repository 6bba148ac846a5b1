"""The one text grammar of Slack and the console (`adapters.text_commands`): words and
`--options`, periods, the admin commands, and the usage and help generated from its tables."""

from __future__ import annotations

import itertools

import pytest

from adapters.console import read_line
from adapters.console.session import HELP
from adapters.slack.admin_commands import ADMIN_USAGE
from adapters.slack.commands import IMAGINE_USAGE
from adapters.text_commands import verbs
from adapters.text_commands.admin import ADMIN_VERBS, read_admin, run_admin
from adapters.text_commands.grammar import parse, parse_days
from core.admin_commands import (
    AdminCommand,
    AllowModel,
    Ban,
    Refund,
    SetBudget,
    SetConfirmAbove,
    SetNsfw,
    SetPrivateMode,
    SetQuota,
    ShowQuota,
)
from core.errors import BotError, ErrorCode
from core.jobs import Actor
from core.quota import QuotaScope

ALLOWED = frozenset({"model", "aspect_ratio", "num_images", "seed", "generate_audio", "duration"})
USAGE = "`/imagine <prompt> [--model m]`"


def words(text: str) -> list[str]:
    return text.split()


def test_words_and_options_in_any_order() -> None:
    parsed = parse(
        words("--model flux-dev a red fox --aspect 16:9 in snow --count=2"),
        allowed=ALLOWED,
        usage=USAGE,
    )
    assert parsed.prompt == "a red fox in snow"
    assert parsed.options == {"model": "flux-dev", "aspect_ratio": "16:9", "num_images": 2}


def test_dashes_that_slack_clients_autocorrect() -> None:
    parsed = parse(words("a fox —model flux-dev –seed 12"), allowed=ALLOWED, usage=USAGE)
    assert parsed.options == {"model": "flux-dev", "seed": 12}


def test_flags_and_durations() -> None:
    parsed = parse(words("waves --audio --duration 8s"), allowed=ALLOWED, usage=USAGE)
    assert parsed.options == {"generate_audio": True, "duration": 8}
    no = parse(words("x --audio no"), allowed=ALLOWED, usage=USAGE)
    assert no.options == {"generate_audio": False}


def test_a_flag_does_not_eat_the_prompts_first_word() -> None:
    # Slack's parser took `a` as the value of `--audio`: no audio, and the prompt lost a word.
    parsed = parse(words("--audio a fox at dawn"), allowed=ALLOWED, usage=USAGE)
    assert parsed.options == {"generate_audio": True}
    assert parsed.prompt == "a fox at dawn"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a fox --colour red", "I don't know the option `--colour`"),
        ("a fox --model", "`--model` needs a value"),
        ("a fox --model --seed 3", "`--model` needs a value"),
        ("a fox --seed 1 --seed 2", "`--seed` is given twice"),
        ("a fox --modle x", "Did you mean `--model`?"),
    ],
)
def test_usage_errors(text: str, problem: str) -> None:
    with pytest.raises(BotError) as caught:
        parse(words(text), allowed=ALLOWED, usage=USAGE)
    assert caught.value.code is ErrorCode.INVALID_INPUT
    assert problem in caught.value.message
    assert caught.value.hint == f"Usage: {USAGE}"


def test_a_hyphenated_word_is_not_an_option() -> None:
    parsed = parse(words("a state-of-the-art robot -- very shiny"), allowed=ALLOWED, usage=USAGE)
    assert parsed.prompt == "a state-of-the-art robot -- very shiny"
    assert parsed.options == {}


@pytest.mark.parametrize(("text", "days"), [("", 30), ("7", 7), ("14d", 14), ("week", 7)])
def test_days(text: str, days: int) -> None:
    assert parse_days(text, usage="u") == days


@pytest.mark.parametrize("text", ["0", "400", "soon", "-3"])
def test_bad_days(text: str) -> None:
    with pytest.raises(BotError):
        parse_days(text, usage="u")


def test_the_console_reads_the_same_grammar_as_slack() -> None:
    line = read_line('/imagine "a red fox" —model flux-dev --ar 16:9')
    assert line.name == "/imagine"
    assert line.parsed.prompt == "a red fox"
    # `--audio` is not an /imagine option on Slack either: refused by the same table
    with pytest.raises(BotError) as caught:
        read_line("/imagine a fox --audio")
    assert "I don't know the option `--audio`" in caught.value.message


def test_a_mistyped_command_or_option_on_the_console_gets_did_you_mean() -> None:
    with pytest.raises(BotError) as caught:
        read_line("/imagine --modle x a cat")
    assert "Did you mean `--model`?" in caught.value.message
    with pytest.raises(BotError) as caught:
        read_line("/imagin a cat")
    assert "Did you mean `/imagine`?" in caught.value.message


def test_the_console_takes_a_period_as_slack_does() -> None:
    # The console took only a bare number of days; `week` was refused.
    line = read_line("/usage week")
    assert parse_days(" ".join(line.parsed.words), usage="u") == 7
    assert read_admin(["usage", "7", "days"], prefix="/").days == 7


def test_the_workspace_target_means_everyone_on_both_surfaces() -> None:
    command = read_admin(words("Quota Set workspace 10 5"), prefix="/")
    assert command.words == ("quota", "set") and command.args == ("workspace", "10", "5")


def test_a_bad_scope_is_a_usage_error() -> None:
    with pytest.raises(BotError) as caught:
        read_admin(words("quota set ann 10 5 --scope team"), prefix="/", allowed={"scope"})
    assert "`--scope` is one of user|role|workspace" in caught.value.message


def test_an_option_a_surface_does_not_offer_is_refused() -> None:
    with pytest.raises(BotError) as caught:
        read_admin(words("usage 7 --csv"), prefix="/falbot ")
    assert "I don't know the option `--csv`" in caught.value.message


def test_usage_and_help_are_generated_from_the_tables() -> None:
    for verb in (*verbs.JOB_VERBS, *verbs.ACCOUNT_VERBS):
        assert f"/{verb.name}" in HELP
    for admin in ADMIN_VERBS:
        assert f"/admin {' '.join(admin.words)}" in HELP
        assert f"/falbot admin {' '.join(admin.words)}" in ADMIN_USAGE
    assert verbs.IMAGINE.usage() == IMAGINE_USAGE
    assert "[--count 1-4]" in IMAGINE_USAGE and "--scope" not in ADMIN_USAGE


class RecordingAdmin:
    """Records which typed command an admin command became (core's service is tested on its
    own; here only the grammar's table → command mapping is)."""

    def __init__(self) -> None:
        self.calls: list[AdminCommand] = []

    async def handle(self, command: AdminCommand, *, actor: Actor) -> str:
        self.calls.append(command)
        return type(command).__name__


EXAMPLES = {
    "<@user|workspace>": "ann",
    "<@user>": "ann",
    "<capacity>": "10",
    "<refill_per_hour>": "5",
    "<daily_usd|none>": "3",
    "<monthly_usd|none>": "none",
    "<model>": "veo3",
    "<withhold|spoiler|allow>": "spoiler",
    "<job id>": "`7f3a`",
    "<usd|off>": "0.50",
}


async def test_every_admin_command_in_the_usage_runs() -> None:
    actor = Actor("console", "w1", "boss", is_admin=True)
    for verb in ADMIN_VERBS:
        if verb.words == ("usage",):
            continue  # each surface shows usage its own way
        for combo in itertools.product(*(w.split("|") for w in verb.words)):
            args = [EXAMPLES[a] for a in verb.args if not a.startswith("[")]
            command = read_admin([*combo, *args], prefix="/")
            service = RecordingAdmin()
            await run_admin(service, actor, command, person=str.upper)  # type: ignore[arg-type]
            expected = {
                ("quota", "set"): SetQuota("ANN", "10", "5"),
                ("quota", "show"): ShowQuota("ANN"),
                ("budget", "set"): SetBudget("3", "none"),
                ("models", "allow"): AllowModel("veo3", allowed=True),
                ("models", "deny"): AllowModel("veo3", allowed=False),
                ("nsfw",): SetNsfw("spoiler"),
                ("ban",): Ban("ANN", banned=True),
                ("unban",): Ban("ANN", banned=False),
                ("refund",): Refund("7f3a"),
                ("confirm-above",): SetConfirmAbove("0.50"),
                ("private", "allow"): SetPrivateMode(allowed=True),
                ("private", "forbid"): SetPrivateMode(allowed=False),
            }[combo]
            assert service.calls == [expected]


async def test_the_workspace_target_sets_the_workspaces_quota() -> None:
    actor = Actor("slack", "T1", "U1", is_admin=True)
    service = RecordingAdmin()
    command = read_admin(words("quota set everyone 10 5"), prefix="/falbot ")
    await run_admin(service, actor, command, person=str.upper)  # type: ignore[arg-type]
    assert service.calls == [SetQuota("T1", "10", "5", QuotaScope.WORKSPACE)]
    command = read_admin(words("quota set <@u2> 10 5"), prefix="/falbot ")
    await run_admin(service, actor, command, person=str.upper)  # type: ignore[arg-type]
    assert service.calls[-1] == SetQuota("<@U2>", "10", "5", QuotaScope.USER)
