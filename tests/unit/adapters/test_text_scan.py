"""Every text falbot can send, through each adapter's renderer: no `**` on the console, no raw
Discord or Slack id where a mention belongs, no `$0.00` for money that is not zero, no fal error
code, no fal field name, one wait said once.

What is scanned is enumerated from the code: every `ErrorCode`, every refusal in
`core.refusals`, every fal error type `adapters.fal.errors` knows, every public `AdminService`
method (called with sample arguments chosen by parameter name), every model's validation. A new
code, refusal or admin command is scanned without editing this test (a refusal or an admin
parameter it cannot build a sample for fails it, saying what to add).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, get_args

import pytest

from adapters.console.reply import console_text
from adapters.console.terminal import styled
from adapters.discord import render as discord_render
from adapters.fal import errors as fal_errors
from adapters.slack import render as slack_render
from core import privacy, refusals
from core.admin import AdminService
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
from core.commands import Generate
from core.confirmations import PriceQuote, QuoteFirst
from core.engine import Engine
from core.errors import BotError, ErrorCode
from core.help import render_help
from core.jobs import Actor, JobKind
from core.markup import CLOSE, OPEN
from core.model_table import build_catalog
from core.options import SHOWN
from core.quota import BucketLimits, BucketState, Budget, BudgetCheck, QuotaScope, TakeResult
from core.render import (
    render_error,
    render_jobs,
    render_models,
    render_quota,
    render_usage,
)
from tests.fakes.asking import Ask, submit
from tests.fakes.reply import RecordingReply

pytestmark = pytest.mark.usefixtures("ticking")

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TINY = Decimal("0.004")  # money that is not zero, though it rounds to $0.00 in cents


@dataclass(frozen=True)
class Platform:
    name: str
    admin: str  # the admin's user id
    user: str  # the user admin commands name
    role: str


DISCORD = Platform("discord", "900000000000000001", "112233445566778899", "223344556677889900")
SLACK = Platform("slack", "U0BOSS001", "U0ALICE42", "S0ARTISTS")
CONSOLE = Platform("console", "console-user", "alice", "artists")
PLATFORMS = (DISCORD, SLACK, CONSOLE)

FAL_CODES = (
    fal_errors.TIMEOUT_TYPES
    | fal_errors.UNAVAILABLE_TYPES
    | {
        fal_errors.CONTENT_POLICY,
        "runner_connection_timeout",
        "runner_connection_refused",
        "client_cancelled",
        "bad_request",
        "validation_error",
    }
)
FAL_STATUSES = (None, 400, 401, 403, 404, 408, 409, 422, 429, 499, 500, 502, 503, 504)


# ---- what core can say


def errors() -> Iterator[BotError]:
    """Every error code; every refusal; every fal failure; every model's validation."""
    for code in ErrorCode:
        yield BotError(code, f"Something about {code.name.lower()}.", hint="Do this.")
        yield BotError(code, "It failed.", retry_after=250.0, request_id="req-7f3a")
        yield BotError(code, "It failed.", retry_after=3 * 86400 + 7200)
    yield from refusals_()
    yield privacy.forbidden()
    for balance in (Decimal(100), Decimal("12.5")):
        quote = PriceQuote(
            id="q" * 32,
            platform="discord",
            workspace_id="w1",
            user_id="u1",
            model="veo3",
            estimate_usd=Decimal("3.2"),
            credits=Decimal(320),
            balance=balance,
            created_at=NOW,
            command=Generate(JobKind.VIDEO, "veo3", {"prompt": "waves"}),
        )
        yield QuoteFirst(quote)
    for status in FAL_STATUSES:
        for kind in (None, *sorted(FAL_CODES)):
            for retry in (None, 30.0):
                detail = [{"loc": ["body", "num_images"], "msg": "too many", "type": "x"}]
                yield fal_errors.classify(
                    status, kind, detail, request_id="req-7f3a", retry_after=retry
                )
    catalog = build_catalog()
    for spec in catalog.all():
        for bad in ({"num_images": 9}, {"aspect_ratio": "5:5"}, {"bogus": 1}, {"duration": 7}):
            params = {"prompt": "a fox", **bad}
            images = spec.max_input_images and 1
            try:
                spec.validate(params, image_count=images)
            except BotError as error:
                yield error


_REFUSALS: dict[str, Callable[[], None]] = {
    "check_in_flight": lambda: refusals.check_in_flight(2, 2),
    "check_budget": lambda: refusals.check_budget(
        BudgetCheck(Budget(Decimal("0.01"), Decimal("0.01")), NOW, NOW.replace(day=1)),
        spent_day=Decimal("0.0081"),
        spent_month=Decimal("0.0081"),
        pending=Decimal(0),
        estimate=Decimal("0.003"),
        now=NOW,
    ),
}


def _bucket_refusal() -> None:
    limits = BucketLimits(Decimal(5), Decimal(1))
    for retry in (170.0, None):
        state = BucketState(Decimal("1.1"), NOW)
        raise refusals.bucket_refusal(
            TakeResult(False, state, retry), amount=Decimal("3.9"), limits=limits
        )


_REFUSALS["bucket_refusal"] = _bucket_refusal


def refusals_() -> Iterator[BotError]:
    functions = {
        name
        for name, f in inspect.getmembers(refusals, inspect.isfunction)
        if f.__module__ == refusals.__name__ and not name.startswith("_")
    }
    refusing = {n for n in functions if n.startswith("check_") or n.endswith("_refusal")}
    missing = refusing - set(_REFUSALS)
    assert not missing, f"add a sample call for the refusal(s) {missing} to _REFUSALS"
    for name in sorted(refusing):
        with pytest.raises(BotError) as caught:
            _REFUSALS[name]()
        yield caught.value
    limits = BucketLimits(Decimal(5), Decimal(1))
    never = TakeResult(False, BucketState(Decimal("1.1"), NOW), None)
    yield refusals.bucket_refusal(never, amount=Decimal("30"), limits=limits)


async def engine_errors(make_engine: Callable[..., Any]) -> list[BotError]:
    """The refusals only a running engine gives: its line full, and a restart under way."""
    found = []
    full = await make_engine(max_waiting=0)
    draining = await make_engine()
    await draining.drain(grace=0)
    for engine in (full, draining):
        with pytest.raises(BotError) as caught:
            await submit(
                engine, Ask(Actor("console", "w1", "u1"), "", {"prompt": "x"}), RecordingReply()
            )
        found.append(caught.value)
    return found


async def admin_texts(engine: Engine, admin: AdminService, where: Platform) -> list[str]:
    """Every AdminService method, called as an admin of `where` with sample arguments."""
    boss = Actor(where.name, "w1", where.admin, is_admin=True)
    user = Actor(where.name, "w1", where.user)
    for _ in range(2):  # one to refund, one that stays charged: no total is really zero
        reply = RecordingReply()
        await submit(engine, Ask(user, "flux-schnell", {"prompt": "a fox"}), reply)
        await reply.wait()
        assert reply.delivery is not None
    commands: list[AdminCommand] = [
        *(
            SetQuota(where.role if scope is QuotaScope.ROLE else where.user, "5", "1", scope)
            for scope in QuotaScope
        ),
        ShowQuota(where.user),
        SetBudget(str(TINY), "12.5"),
        AllowModel("flux-dev", allowed=True),
        AllowModel("flux-dev", allowed=False),
        SetNsfw("spoiler"),
        SetConfirmAbove("0.50"),
        SetConfirmAbove("off"),
        SetPrivateMode(allowed=True),
        SetPrivateMode(allowed=False),
        Refund(reply.delivery.job.id),
        Ban(where.user, banned=True),
        Ban(where.user, banned=False),
    ]
    assert {type(c) for c in commands} == set(get_args(AdminCommand)), "add a sample"
    texts = [await admin.handle(command, actor=boss) for command in commands]
    texts.append(render_usage(await admin.usage(boss, days=7)))
    return texts


async def account_texts(engine: Engine, where: Platform) -> list[str]:
    user = Actor(where.name, "w1", where.user)
    texts = [
        render_quota(await engine.quota(user)),
        render_models(await engine.models("w1")),
        render_jobs(await engine.jobs(user)),
        render_usage(await engine.usage(user)),
    ]
    for platform in ("discord", "slack"):  # /help, with the user's credits
        texts.append(render_help(platform, await engine.quota(user), admin=True))
    return texts


# ---- what each surface shows


def discord_texts(core_texts: list[str], failures: list[BotError]) -> list[str]:
    shown = [discord_render.block(t) for t in core_texts]
    shown += [discord_render.error(e) for e in failures]
    return shown


def slack_texts(core_texts: list[str], failures: list[BotError]) -> list[str]:
    def words(blocks: list[dict[str, Any]]) -> str:
        out = []
        for block in blocks:
            if "text" in block:
                out.append(block["text"]["text"])
            out += [e["text"] for e in block.get("elements", []) if "text" in e]
        return "\n".join(out)

    shown = [words(slack_render.text_blocks(t)) for t in core_texts]
    shown += [words(slack_render.error(e)[1]) for e in failures]
    return shown


def console_texts(core_texts: list[str], failures: list[BotError], where: Platform) -> list[str]:
    people = {where.user: "alice", where.admin: "you"}
    now = datetime.now(UTC)
    texts = core_texts + [render_error(e, now=now) for e in failures]
    # As the console's screen shows them without colours (a pipe, a script, a log).
    return [styled(console_text(t, people=people), ansi=False) for t in texts]


# ---- the checks

_SLACK_MENTION = re.compile(r"<@[UW][A-Z0-9]+>|<!subteam\^S[A-Z0-9]+>")
_MONEY_ZERO = re.compile(r"\$0\.00(?!\d)")
_FIELDS = tuple(SHOWN)  # fal's field names, which users never type


def check_common(text: str) -> None:
    assert OPEN not in text and CLOSE not in text, text  # core's markup all translated
    assert not _MONEY_ZERO.search(text), text
    for code in FAL_CODES:
        assert code not in text, (code, text)
    for field in _FIELDS:
        assert field not in text, (field, text)
    assert text.count("Try again in") <= 1, text  # one wait, said once
    assert text.count(" in a minute") + text.count(" s;") <= 1, text


def check_platform_ids(text: str, where: Platform, *, mention: re.Pattern[str]) -> None:
    outside = mention.sub("", text)
    for raw in (where.user, where.role, where.admin):
        assert raw not in outside, (raw, text)


@pytest.mark.parametrize("where", PLATFORMS, ids=[p.name for p in PLATFORMS])
async def test_every_text_reads_well_on_every_surface(
    engine: Engine, admin: AdminService, make_engine: Callable[..., Any], where: Platform
) -> None:
    failures = list(errors()) + await engine_errors(make_engine)
    assert len(failures) > 200  # the enumeration found what it should
    core_texts = await admin_texts(engine, admin, where) + await account_texts(engine, where)
    assert any(where.user in t for t in core_texts)  # people are named in what is scanned

    if where is DISCORD:
        for text in discord_texts(core_texts, failures):
            check_common(text)
            check_platform_ids(text, where, mention=re.compile(r"<@&?\d+>"))
            assert "`--" not in text, text  # Discord's options are typed without dashes
    elif where is SLACK:
        for text in slack_texts(core_texts, failures):
            check_common(text)
            check_platform_ids(text, where, mention=_SLACK_MENTION)
            assert "&lt;@" not in text and "&lt;t:" not in text, text  # a mention left broken
    else:
        for text in console_texts(core_texts, failures, where):
            check_common(text)
            assert "**" not in text, text
            assert "<@" not in text and "<t:" not in text, text
            assert where.user not in text.replace("alice", ""), text
