"""The admin commands of the text surfaces (`/falbot admin …` on Slack, `/admin …` on the
console): their grammar and usage, read into a call of core's `AdminService`."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from adapters.text_commands.grammar import BY_FIELD, Value, parse, parse_days, usage_error
from core.admin import AdminService
from core.admin_commands import (
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
from core.jobs import Actor
from core.quota import QuotaScope

# Targets that mean everyone in the workspace.
WORKSPACE_WORDS = frozenset({"workspace", "everyone", "default", "all"})


@dataclass(frozen=True)
class AdminVerb:
    words: tuple[str, ...]  # the fixed words, alternatives as `allow|deny`
    args: tuple[str, ...] = ()  # the words after them, as usage shows them
    options: tuple[str, ...] = ()  # field names of its options
    note: str = ""

    def usage(self, prefix: str, *, allowed: Collection[str]) -> str:
        """Its usage line, with the options this surface offers."""
        parts = [f"{prefix}admin", *self.words, *self.args]
        for field in self.options:
            if field in allowed:
                option = BY_FIELD[field]
                choices = "|".join(option.choices)
                parts.append(f"[{option.shown} {choices}]" if choices else f"[{option.shown}]")
        shown = "`" + " ".join(parts) + "`"
        return f"{shown} ({self.note})" if self.note else shown

    def fits(self, words: Sequence[str]) -> bool:
        """Whether `words` are this command: its fixed words (any case), then as many words
        as it takes (an optional `[days]` may be written in more than one: `7 days`)."""
        fixed = [w.lower() for w in words[: len(self.words)]]
        if len(fixed) < len(self.words) or not all(
            w in choices.split("|") for w, choices in zip(fixed, self.words, strict=True)
        ):
            return False
        given = len(words) - len(self.words)
        required = sum(1 for a in self.args if not a.startswith("["))
        return given == required or (given > required and len(self.args) > required)


ADMIN_VERBS = (
    AdminVerb(
        ("quota", "set"),
        ("<@user|workspace>", "<capacity>", "<refill_per_hour>"),
        options=("scope",),
    ),
    AdminVerb(("quota", "show"), ("<@user>",)),
    AdminVerb(("budget", "set"), ("<daily_usd|none>", "<monthly_usd|none>")),
    AdminVerb(("models", "allow|deny"), ("<model>",)),
    AdminVerb(
        ("nsfw",), ("<withhold|spoiler|allow>",), note="flagged outputs outside NSFW channels"
    ),
    AdminVerb(("ban|unban",), ("<@user>",)),
    AdminVerb(("usage",), ("[days]",), options=("csv",)),
    AdminVerb(("refund",), ("<job id>",)),
    AdminVerb(("confirm-above",), ("<usd|off>",), note="jobs above it show their price and wait"),
    AdminVerb(("private", "allow|forbid"), note="results only their requester sees"),
)


def admin_usage(prefix: str, *, allowed: Collection[str] = ()) -> str:
    """Every admin command, one per line (`prefix`: `/falbot ` on Slack, `/` on the console;
    `allowed`: the options the surface offers)."""
    return "\n".join(verb.usage(prefix, allowed=allowed) for verb in ADMIN_VERBS)


@dataclass(frozen=True)
class AdminCommand:
    """An admin command as typed: its verb's words (lower case), the words after them, and
    its options (by field name)."""

    words: tuple[str, ...]
    args: tuple[str, ...]
    options: Mapping[str, Value]
    usage: str  # the usage lines, for an error in its arguments

    @property
    def days(self) -> int:
        """`usage [days]`'s period."""
        return parse_days(" ".join(self.args), usage=self.usage)


def read_admin(
    tokens: Sequence[str], *, prefix: str, allowed: Collection[str] = ()
) -> AdminCommand:
    """The admin command in `tokens` (the words after `admin`); a usage error for anything
    else. `allowed`: the options this surface offers (the console's `--scope` and `--csv`)."""
    usage = "\n" + admin_usage(prefix, allowed=allowed)
    parsed = parse(tokens, allowed=allowed, usage=usage)
    words = parsed.words
    for verb in ADMIN_VERBS:
        if verb.fits(words):
            fixed = tuple(w.lower() for w in words[: len(verb.words)])
            return AdminCommand(fixed, words[len(verb.words) :], parsed.options, usage)
    typed = " ".join(words)[:60]
    problem = "Which admin command?" if not words else f"I don't know `{prefix}admin {typed}`."
    raise usage_error(problem, usage)


async def run_admin(
    service: AdminService, actor: Actor, command: AdminCommand, *, person: Callable[[str], str]
) -> str:
    """Do `command` (anything but `usage`, which each surface shows its own way).
    `person`: a user's id from the way it is written on this surface (a Slack mention)."""
    match command.words, command.args:
        case ("quota", "set"), (target, capacity, refill):
            scope = QuotaScope(str(command.options.get("scope", "user")))
            if target.lower() in WORKSPACE_WORDS:
                target, scope = actor.workspace_id, QuotaScope.WORKSPACE
            elif scope is QuotaScope.USER:
                target = person(target)
            return await service.handle(
                SetQuota(target, capacity, refill, scope=scope), actor=actor
            )
        case ("quota", "show"), (target,):
            return await service.handle(ShowQuota(person(target)), actor=actor)
        case ("budget", "set"), (daily, monthly):
            return await service.handle(SetBudget(daily, monthly), actor=actor)
        case ("models", "allow"), (model,):
            return await service.handle(AllowModel(model, allowed=True), actor=actor)
        case ("models", "deny"), (model,):
            return await service.handle(AllowModel(model, allowed=False), actor=actor)
        case ("nsfw",), (mode,):
            return await service.handle(SetNsfw(mode), actor=actor)
        case ("ban",), (user,):
            return await service.handle(Ban(person(user), banned=True), actor=actor)
        case ("unban",), (user,):
            return await service.handle(Ban(person(user), banned=False), actor=actor)
        case ("refund",), (job,):
            return await service.handle(Refund(job.strip("`")), actor=actor)
        case ("confirm-above",), (usd,):
            return await service.handle(SetConfirmAbove(usd), actor=actor)
        case ("private", choice), ():
            return await service.handle(SetPrivateMode(choice == "allow"), actor=actor)
    raise AssertionError(f"admin command {command.words} has no handler")
