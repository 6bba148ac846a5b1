"""Admin checks hold on every path, in both chat adapters through their real libraries: every
admin entry point refuses a member with nothing changed in the store and works for an admin, and
every button, modal and command that acts on a job refuses someone else's job.

The entry points are read from what each adapter registers (the `/admin` subcommands synced to
Discord, the `DynamicItem`s discord.py routes clicks to, Slack's command table and the action ids
Bolt listens to), so a new path with no case here fails these tests instead of going unchecked.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_args

from adapters.discord.buttons import Action, ImageMenu, ResultButton, custom_id
from adapters.discord.quotes import QuoteButton
from adapters.discord.settings import ResetButton, SettingMenu
from adapters.discord.suggestion_button import SuggestionButton
from adapters.slack.admin_commands import ADMIN_USAGE
from adapters.slack.commands import COMMANDS, SUBCOMMANDS
from adapters.slack.render import EDIT_MODAL
from adapters.slack.result_actions import DELETE, EDIT, REGION, RERUN, VERB_IDS
from core.admin_commands import AdminCommand
from core.jobs import Actor
from core.ports import Store, UsageFilter
from core.verbs import PUBLIC
from tests.fakes.discord import Issued, Person, Recorded
from tests.fakes.discord import payloads as p
from tests.fakes.slack import Call
from tests.fakes.slack import payloads as sp
from tests.integration.discord import conftest as discord_fixtures
from tests.integration.discord.conftest import EPHEMERAL, Env
from tests.integration.slack import conftest as slack_fixtures
from tests.integration.slack.harness import ANN, BOSS, CHANNEL, CONFIGURED, TEAM, SlackStack

# The whole stacks, as tests/integration/discord and tests/integration/slack use them.
env = discord_fixtures.env
fake, db_path = slack_fixtures.fake, slack_fixtures.db_path
slack_stack = slack_fixtures.stack
OTHER = "UOTHER"  # an ordinary member who is not ANN

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
NOT_ADMIN = "Only falbot admins"
NOT_THEIRS = "Only the person who asked for this result, or an admin"


async def store_state(store: Store, workspace: str, users: tuple[str, ...]) -> tuple[object, ...]:
    """Everything an admin path or a job button could change in one workspace."""
    jobs = [await store.user_jobs(workspace, u, limit=100) for u in users]
    return (
        await store.policy(workspace),
        [await store.quotas(workspace, u, ()) for u in users],
        [await store.is_banned(workspace, u) for u in users],
        await store.ledger(UsageFilter(workspace, EPOCH)),
        [[(j.id, j.state.final) for j in js] for js in jobs],  # not progress: it moves on
    )


# ---------------------------------------------------------------------------------------------
# Discord


@dataclass(frozen=True)
class DiscordCase:
    """How to call one `/admin` subcommand, and what an admin is told when it works."""

    options: Callable[[Env, str], list[dict[str, Any]]]  # (env, a job id) → options
    resolved: Callable[[Env], dict[str, Any] | None]
    said: str


def _on(person: str) -> Callable[[Env], dict[str, Any]]:
    return lambda e: e.fake.resolved_member(getattr(e, person))


def _none(e: Env) -> None:
    return None


DISCORD_ADMIN: dict[tuple[str, ...], DiscordCase] = {
    ("quota", "set"): DiscordCase(
        lambda e, _: [
            p.option("target", 9, e.alice.id),
            p.option("capacity", p.STRING, "500"),
            p.option("refill_per_hour", p.STRING, "500"),
        ],
        _on("alice"),
        "Quota for <@",
    ),
    ("quota", "show"): DiscordCase(
        lambda e, _: [p.option("target", 6, e.alice.id)], _on("alice"), "credits, refilling"
    ),
    ("budget", "set"): DiscordCase(
        lambda e, _: [
            p.option("daily_usd", p.STRING, "0"),
            p.option("monthly_usd", p.STRING, "0"),
        ],
        _none,
        "Budget: $0.00 a day",
    ),
    ("models", "allow"): DiscordCase(
        lambda e, _: [p.option("model", p.STRING, "veo3")], _none, "veo3 is allowed"
    ),
    ("models", "deny"): DiscordCase(
        lambda e, _: [p.option("model", p.STRING, "flux-schnell")], _none, "no longer allowed"
    ),
    ("nsfw",): DiscordCase(
        lambda e, _: [p.option("mode", p.STRING, "allow")], _none, "are shown outside"
    ),
    ("ban",): DiscordCase(
        lambda e, _: [p.option("user", 6, e.bob.id)], _on("bob"), "can no longer use falbot"
    ),
    ("unban",): DiscordCase(
        lambda e, _: [p.option("user", 6, e.bob.id)], _on("bob"), "can use falbot here again"
    ),
    ("usage",): DiscordCase(lambda e, _: [], _none, "Spend by everyone"),
    ("refund",): DiscordCase(
        lambda e, job_id: [p.option("job", p.STRING, job_id)], _none, "Refunded"
    ),
    ("confirm-above",): DiscordCase(
        lambda e, _: [p.option("usd", p.STRING, "0.50")], _none, "Jobs estimated above $0.50"
    ),
    ("private",): DiscordCase(
        lambda e, _: [p.option("mode", p.STRING, "allow")], _none, "Private mode is allowed"
    ),
}

# Top-level commands that act only for the caller (their own jobs, bucket and usage), the ones
# that take a job id (someone else's must be refused), and the admin group.
DISCORD_OWN = {"imagine", "edit", "upscale", "video", "models", "quota", "usage", "jobs", "help"}
DISCORD_OWN |= {"describe", "blend", "settings"}  # a new job of the caller's; their own settings
DISCORD_OWN_MENUS = {"Edit image"}
DISCORD_ON_A_JOB = {"cancel"}


def subcommand_paths(command: Mapping[str, Any]) -> Iterator[tuple[str, ...]]:
    """The leaf subcommands of a registered command, as Discord lists them."""
    for option in command.get("options") or []:
        if option["type"] == p.SUB_COMMAND:
            yield (option["name"],)
        elif option["type"] == p.SUB_COMMAND_GROUP:
            for sub in option.get("options") or []:
                yield (option["name"], sub["name"])


def slash_payload(
    env: Env, person: Person, path: tuple[str, ...], case: DiscordCase, job_id: str
) -> dict[str, Any]:
    sub = p.subcommand(path[-1], case.options(env, job_id))
    top = p.subcommand_group(path[0], sub) if len(path) == 2 else sub
    return env.fake.slash(person, "admin", [top], resolved=case.resolved(env))


async def answer(env: Env, payload: dict[str, Any]) -> Recorded:
    issued = await env.fake.send_interaction(payload)
    return await env.callback(issued)


def private_text(recorded: Recorded) -> str:
    data = recorded.json["data"]
    assert recorded.json["type"] == 4 and data["flags"] & EPHEMERAL, recorded.json
    return str(data["content"])


async def delivered(env: Env, person: Person, prompt: str = "a lighthouse") -> Issued:
    """An /imagine by `person`, shown and recorded as delivered."""
    issued = await env.slash(person, "imagine", options=[p.option("prompt", p.STRING, prompt)])
    await env.final_edit(issued)
    await all_settled(env)
    return issued


async def all_settled(env: Env) -> None:
    """Until no job in the store is still on its way (the result edit comes before the store
    records the job as delivered)."""
    engine = env.bots[0].app.engine
    people = (env.alice, env.bob, env.mod, env.helper)
    async with asyncio.timeout(5):
        while True:
            actors = [Actor("discord", env.fake.guild_id, who.id) for who in people]
            jobs = [j for a in actors for j in await engine.jobs(a, limit=100)]
            if all(j.state.final for j in jobs):
                return
            await asyncio.sleep(0.01)


def job_of(env: Env, issued: Issued) -> str:
    rerun = env.fake.button_ids(env.fake.original(issued))["Rerun"]
    return rerun.rsplit(":", 1)[1]


async def discord_state(env: Env) -> tuple[object, ...]:
    store = env.bots[0].app.store
    people = (env.alice.id, env.bob.id, env.mod.id, env.helper.id)
    return await store_state(store, env.fake.guild_id, people)


async def test_discord_every_admin_subcommand_refuses_a_member_and_works_for_an_admin(
    env: Env,
) -> None:
    await env.start_bot()
    job_id = job_of(env, await delivered(env, env.alice))
    registered = list(subcommand_paths(env.fake.command("admin")))
    assert sorted(registered) == sorted(DISCORD_ADMIN), "a new /admin subcommand needs a case"

    for path in registered:
        case = DISCORD_ADMIN[path]
        before = await discord_state(env)
        refused = private_text(await answer(env, slash_payload(env, env.alice, path, case, job_id)))
        assert NOT_ADMIN in refused, (path, refused)
        assert await discord_state(env) == before, path

        # The admin role and Manage Server both count.
        for admin in (env.mod, env.helper) if path == ("quota", "show") else (env.mod,):
            said = private_text(await answer(env, slash_payload(env, admin, path, case, job_id)))
            assert case.said in said, (path, said)


def test_discord_routes_clicks_only_to_the_result_buttons() -> None:
    """Every button custom_id the adapter can route is a result button, one per `Action`."""
    template = ResultButton.__discord_ui_compiled_template__
    for action in get_args(Action):
        assert template.fullmatch(custom_id(action, "0" * 32)), action
    assert not template.fullmatch("falbot:ban:" + "0" * 32)


async def test_discord_result_buttons_refuse_someone_elses_job(env: Env) -> None:
    bot = await env.start_bot()
    routed = list(bot.adapter.client._connection._view_store._dynamic_items.values())
    # Imagine (a describe's) and the settings panel's menus: test_describe_settings_paths.py;
    # QuoteButton's case (only the requester answers a quote): discord/test_quotes.py;
    # a grid's ImageMenu: its choices are the buttons below (discord/test_verbs.py).
    others = {SuggestionButton, SettingMenu, ResetButton, QuoteButton, ImageMenu}
    assert set(routed) == {ResultButton, *others}, "a new DynamicItem needs its own case here"
    assert not bot.adapter.client.persistent_views, "a persistent view needs its own case here"

    result = await delivered(env, env.alice)
    message = env.fake.original(result)
    buttons = env.fake.button_ids(message)
    actions = {cid.split(":")[1] for cid in buttons.values()}
    assert actions == set(get_args(Action))

    for label, cid in buttons.items():
        if cid.split(":")[1] in PUBLIC:
            continue  # anyone's by design (tests/integration/discord/test_verbs.py)
        before, submits = await discord_state(env), len(env.sim.submits)
        refused = await answer(env, env.fake.click(env.bob, message, cid))
        assert NOT_THEIRS in private_text(refused), label  # not a modal, not a new job
        assert await discord_state(env) == before, label
        assert len(env.sim.submits) == submits
        assert message["id"] in env.fake.messages

    # The requester and an admin may: Rerun and Upscale start jobs, Edit opens the modal.
    rerun = await env.fake.send_interaction(env.fake.click(env.alice, message, buttons["Rerun"]))
    await env.final_edit(rerun)
    upscale_id = buttons["Upscale (Subtle)"]
    upscale = await env.fake.send_interaction(env.fake.click(env.mod, message, upscale_id))
    await env.final_edit(upscale)
    for person in (env.alice, env.mod):
        edit = await env.fake.send_interaction(env.fake.click(person, message, buttons["Edit"]))
        await env.callback(edit)
        assert edit.modal["title"] == "Edit this result"
    delete = await env.fake.send_interaction(env.fake.click(env.mod, message, buttons["Delete"]))
    await env.fake.wait_for(lambda r: r.method == "DELETE" and delete.token in r.path)
    assert message["id"] in env.fake.deleted


async def test_discord_edit_modal_checks_the_submitter_on_submit(env: Env) -> None:
    """discord.py matches a modal submission by custom_id only: a modal an admin opened on
    ALICE's result, submitted after a demotion or by someone else, is refused then."""
    await env.start_bot()
    message = env.fake.original(await delivered(env, env.alice))
    edit_id = env.fake.button_ids(message)["Edit"]

    async def opened_by_helper() -> tuple[Issued, str]:
        opened = await env.fake.send_interaction(env.fake.click(env.helper, message, edit_id))
        await env.callback(opened)
        prompt_id = next(
            c["custom_id"]
            for row in opened.modal["components"]
            for c in row.get("components") or [row.get("component")]
            if c["style"] == 2  # the paragraph input: the prompt
        )
        return opened, prompt_id

    # A modal is gone once submitted: each submitter gets one freshly opened.
    for submitter in (Person(env.helper.user, roles=()), env.bob):
        opened, prompt_id = await opened_by_helper()
        before, submits = await discord_state(env), len(env.sim.submits)
        payload = env.fake.modal_submit(submitter, opened, {prompt_id: "paint it over"})
        assert NOT_THEIRS in private_text(await answer(env, payload)), submitter
        assert await discord_state(env) == before
        assert len(env.sim.submits) == submits

    # The owner's own submission starts the edit.
    opened, prompt_id = await opened_by_helper()
    submits = len(env.sim.submits)
    await answer(env, env.fake.modal_submit(env.alice, opened, {prompt_id: "in blue"}))
    await env.sim.wait_for_submits(submits + 1)
    assert env.sim.submits[-1][1]["prompt"] == "in blue"
    await all_settled(env)


async def test_discord_commands_act_only_on_the_callers_own_jobs(env: Env) -> None:
    bot = await env.start_bot()
    registered = {c["name"] for c in env.fake.commands[None]}
    assert registered == DISCORD_OWN | DISCORD_OWN_MENUS | DISCORD_ON_A_JOB | {"admin"}, (
        "a new command needs a case here"
    )

    env.sim.hold = True
    running = await env.slash(env.alice, "imagine", options=[p.option("prompt", p.STRING, "x")])
    await env.sim.wait_for(lambda: env.sim.running == 1)
    (job,) = await bot.app.engine.jobs(Actor("discord", env.fake.guild_id, env.alice.id))
    for command in sorted(DISCORD_ON_A_JOB):
        for ref in (job.id, job.short_id):
            before = await discord_state(env)
            said = private_text(
                await answer(env, env.fake.slash(env.bob, command, [p.option("job", 3, ref)]))
            )
            assert f"I found no job `{ref}` of yours" in said
            assert await discord_state(env) == before

    said = private_text(
        await answer(env, env.fake.slash(env.mod, "cancel", [p.option("job", 3, job.short_id)]))
    )
    assert f"Cancelling job `{job.short_id}`" in said  # an admin may
    await env.fake.wait_for(
        lambda r: (
            r.method == "PATCH" and running.token in r.path and "Cancelled" in r.json["content"]
        )
    )
    env.sim.release()


# ---------------------------------------------------------------------------------------------
# Slack


@dataclass(frozen=True)
class SlackCase:
    """One `/admin` subcommand as typed (`{job}`: a delivered job of ANN's), the AdminService
    action it reaches, and what an admin is told when it works."""

    text: str
    action: str
    said: str


SLACK_ADMIN: dict[tuple[str, ...], SlackCase] = {
    ("quota", "set"): SlackCase(f"quota set <@{ANN}|ann> 500 500", "SetQuota", "Quota for <@"),
    ("quota", "show"): SlackCase(f"quota show <@{ANN}>", "ShowQuota", "credits, refilling"),
    ("budget", "set"): SlackCase("budget set 0 0", "SetBudget", "Budget: $0.00 a day"),
    ("models", "allow"): SlackCase("models allow veo3", "AllowModel", "veo3 is allowed"),
    ("models", "deny"): SlackCase("models deny flux-dev", "AllowModel", "no longer allowed"),
    ("nsfw",): SlackCase("nsfw allow", "SetNsfw", "are shown outside"),
    ("ban",): SlackCase(f"ban <@{OTHER}>", "Ban", "can no longer use falbot"),
    ("unban",): SlackCase(f"unban <@{OTHER}>", "Ban", "can use falbot here again"),
    ("usage",): SlackCase("usage 7", "usage", "Spend by everyone"),
    ("refund",): SlackCase("refund {job}", "Refund", "Refunded"),
    ("confirm-above",): SlackCase(
        "confirm-above 0.50", "SetConfirmAbove", "Jobs estimated above $0.50"
    ),
    ("private", "allow"): SlackCase("private allow", "SetPrivateMode", "Private mode is allowed"),
    ("private", "forbid"): SlackCase(
        "private forbid", "SetPrivateMode", "Private mode is forbidden"
    ),
}
SLACK_JOBS = {"/imagine", "/video", "/edit", "/upscale", "/describe", "/blend"}
SLACK_OWN = {"help", "models", "quota", "usage", "jobs", "settings"}  # `/falbot <name>`
SLACK_ON_A_JOB = {"cancel"}


def admin_subcommands() -> list[tuple[str, ...]]:
    """The subcommands `/falbot admin` lists in its usage (the words before the first `<` or
    `[`)."""
    found: list[tuple[str, ...]] = []
    for line in ADMIN_USAGE.splitlines():
        words = line.split("`")[1].split()[2:]
        fixed = [w for w in itertools.takewhile(lambda w: w[0] not in "<[", words)]
        for combo in itertools.product(*(w.split("|") for w in fixed)):
            found.append(tuple(combo))
    return found


def said(call: Call) -> str:
    return "\n".join(
        b["text"]["text"] for b in call.params.get("blocks") or [] if b["type"] == "section"
    )


async def slack_state(stack: SlackStack) -> tuple[object, ...]:
    return await store_state(stack.store, TEAM, (ANN, BOSS, OTHER))


async def slack_answer(stack: SlackStack, command: str, text: str, user: str) -> str:
    before = len(stack.fake.calls_to("response_url"))
    await stack.command(command, text, user=user)
    return said(await stack.fake.wait_for("response_url", count=before + 1))


async def slack_result(stack: SlackStack, prompt: str = "a paper boat") -> dict[str, Any]:
    """ANN's /imagine, delivered: its message with the buttons."""
    done = sum(map(is_done, stack.fake.calls_to("chat.update")))
    await stack.command("/imagine", f"{prompt} --model flux-schnell", user=ANN)
    update = await stack.fake.wait_for("chat.update", is_done, count=done + 1)
    await stack.wait_delivered(ANN, count=done + 1)
    message = stack.fake.message(CHANNEL, update.params["ts"])
    assert message is not None
    return message


def is_done(call: Call) -> bool:
    return str(call.params.get("text", "")).startswith("Done")


async def click(stack: SlackStack, message: dict[str, Any], action_id: str, user: str) -> None:
    await stack.interaction(
        sp.block_actions(
            sp.button_action(message, action_id),
            message=message,
            team_id=TEAM,
            user_id=user,
            channel_id=CHANNEL,
            response_url=stack.fake.response_url(),
        )
    )


def edit_values(prompt: str) -> dict[str, Any]:
    return {
        "prompt": {"prompt_input": {"type": "plain_text_input", "value": prompt}},
        "model": {"model_input": {"type": "static_select", "selected_option": None}},
    }


async def test_slack_every_admin_command_refuses_a_member_and_works_for_an_admin(
    slack_stack: SlackStack,
) -> None:
    stack = slack_stack
    stack.fake.add_user(OTHER, name="other")
    await slack_result(stack)
    (job,) = await stack.jobs_of(ANN)
    listed = admin_subcommands()
    assert sorted(listed) == sorted(SLACK_ADMIN), "a new /admin subcommand needs a case"
    commands = {t.__name__ for t in get_args(AdminCommand)} | {"usage"}  # usage: a report
    assert {c.action for c in SLACK_ADMIN.values()} == commands

    for path in listed:
        case = SLACK_ADMIN[path]
        text = case.text.format(job=job.short_id)
        before = await slack_state(stack)
        refused = await slack_answer(stack, "/falbot", f"admin {text}", ANN)
        assert NOT_ADMIN in refused, (path, refused)
        assert await slack_state(stack) == before, path
        # A Slack admin, then one by FALBOT_ADMIN_USER_IDS (a job is refunded once only).
        expected = (case.said, "was refunded before" if path == ("refund",) else case.said)
        for admin, wanted in zip((BOSS, CONFIGURED), expected, strict=True):
            answered = await slack_answer(stack, "/falbot", f"admin {text}", admin)
            assert wanted in answered, (path, admin, answered)


async def test_slack_result_buttons_refuse_someone_elses_job(slack_stack: SlackStack) -> None:
    stack, fake = slack_stack, slack_stack.fake
    fake.add_user(OTHER, name="other")
    message = await slack_result(stack)
    on_message = {
        e["action_id"] for b in message["blocks"] for e in b.get("elements", []) if "action_id" in e
    }
    assert on_message == {*VERB_IDS, RERUN, EDIT, REGION, DELETE}, "a new button needs a case"

    for action_id in (RERUN, EDIT, REGION, DELETE):  # the verbs are anyone's (test_verbs.py)
        before, submits = await slack_state(stack), len(stack.sim.submits)
        answers = len(fake.calls_to("response_url"))
        await click(stack, message, action_id, OTHER)
        refused = await fake.wait_for("response_url", count=answers + 1)
        assert NOT_THEIRS in said(refused), action_id
        assert await slack_state(stack) == before, action_id
        assert len(stack.sim.submits) == submits and not fake.calls_to("views.open")
        assert fake.message(CHANNEL, message["ts"]) is not None

    # The requester and an admin may.
    await click(stack, message, RERUN, ANN)
    await fake.wait_for("chat.update", is_done, count=2)
    await click(stack, message, "falbot_upscale", BOSS)
    await fake.wait_for("chat.update", is_done, count=3)
    for who, count in ((ANN, 1), (BOSS, 2)):
        await click(stack, message, EDIT, who)
        await fake.wait_for("views.open", count=count)
    await click(stack, message, DELETE, BOSS)
    await fake.wait_for("chat.delete")
    assert fake.message(CHANNEL, message["ts"]) is None


async def test_slack_edit_modal_checks_the_submitter_on_submit(slack_stack: SlackStack) -> None:
    """A modal opened by an admin on ANN's result and submitted after a demotion, or submitted
    by someone else, starts nothing; ANN's own submission starts her edit."""
    stack, fake = slack_stack, slack_stack.fake
    fake.add_user(OTHER, name="other")
    message = await slack_result(stack)
    await click(stack, message, EDIT, BOSS)
    await fake.wait_for("views.open")
    view = fake.views[-1]
    assert view["callback_id"] == EDIT_MODAL

    fake.users[BOSS]["is_admin"] = False  # demoted in Slack while the modal was open
    for who in (BOSS, OTHER):
        before, submits = await slack_state(stack), len(stack.sim.submits)
        told = len(fake.calls_to("chat.postEphemeral"))
        payload = sp.view_submission(view, edit_values("mine now"), team_id=TEAM, user_id=who)
        await stack.interaction(payload)
        refused = await fake.wait_for("chat.postEphemeral", count=told + 1)
        assert refused.params["user"] == who
        assert NOT_THEIRS in said(refused)  # core's one rule and text, as on Discord
        assert await slack_state(stack) == before and len(stack.sim.submits) == submits

    payload = sp.view_submission(view, edit_values("add a moon"), team_id=TEAM, user_id=ANN)
    await stack.interaction(payload)
    await fake.wait_for("chat.update", is_done, count=2)
    assert stack.sim.submits[-1][1]["prompt"] == "add a moon"
    assert [j.user_id for j in await stack.jobs_of(ANN)] == [ANN, ANN]


async def test_slack_commands_act_only_on_the_callers_own_jobs(slack_stack: SlackStack) -> None:
    stack, fake = slack_stack, slack_stack.fake
    fake.add_user(OTHER, name="other")
    assert set(COMMANDS) == SLACK_JOBS | {"/falbot"}, "a new command needs a case"
    assert set(SUBCOMMANDS) == SLACK_OWN | SLACK_ON_A_JOB | {"admin"}, "a new one needs a case"

    stack.sim.hold = True
    await stack.command("/imagine", "a slow fox --model flux-schnell", user=ANN)
    await stack.sim.wait_for(lambda: stack.sim.running == 1)
    (job,) = await stack.jobs_of(ANN)
    for command in sorted(SLACK_ON_A_JOB):
        for ref in (job.id, job.short_id):
            before = await slack_state(stack)
            refused = await slack_answer(stack, "/falbot", f"{command} {ref}", OTHER)
            assert f"I found no job `{ref}` of yours" in refused
            assert await slack_state(stack) == before

    cancelled_by_boss = await slack_answer(stack, "/falbot", f"cancel {job.short_id}", BOSS)
    assert f"job `{job.short_id}`" in cancelled_by_boss
    cancelled = await fake.wait_for("chat.update", lambda c: "Failed" in str(c.params["text"]))
    assert "Cancelled" in said(cancelled)
    assert (await stack.jobs_of(ANN))[0].state.final
