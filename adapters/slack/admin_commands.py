"""`/admin …`: parsed here, checked and done by core's `AdminService`; answers are ephemeral."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from slack_sdk.errors import SlackClientError

from adapters.slack.context import Origin
from adapters.slack.deps import Deps
from adapters.slack.names import team_name, user_names
from adapters.slack.options import parse_days, slack_id, unescape, usage_error
from adapters.usage_chart import file_stem, usage_chart_png, usage_csv
from core.admin import AdminResult
from core.jobs import Actor
from core.quota import QuotaScope
from core.render import render_admin, render_usage
from core.usage import UsageReport

log = logging.getLogger(__name__)

ADMIN_USAGE = "\n".join(
    [
        "`/admin quota set <@user|workspace> <capacity> <refill_per_hour>`",
        "`/admin quota show <@user>`",
        "`/admin budget set <daily_usd|none> <monthly_usd|none>`",
        "`/admin models allow|deny <model>`",
        "`/admin nsfw <withhold|spoiler|allow>` (flagged outputs outside NSFW channels)",
        "`/admin ban|unban <@user>`",
        "`/admin usage [days]`",
        "`/admin refund <job id>`",
    ]
)
_WORKSPACE = frozenset({"workspace", "everyone", "default", "all"})


async def admin(deps: Deps, origin: Origin, text: str) -> None:
    words = unescape(text).split()
    actor = await deps.identities.actor(origin)  # admin rights are looked up on every call
    if words[:1] == ["usage"]:
        days = parse_days(" ".join(words[1:]), usage=ADMIN_USAGE)
        report = await deps.admin.usage(actor, days=days)
        sent = await _send_chart(deps, origin, report)
        note = "\nThe chart and a CSV are in your DMs with me." if sent else ""
        await deps.answers.text(origin, render_usage(report) + note)
        return
    result = await _run(deps, actor, words)
    await deps.answers.text(origin, render_admin(result))


async def _send_chart(deps: Deps, origin: Origin, report: UsageReport) -> bool:
    """The usage chart and CSV, privately: uploaded into the admin's DM with the bot."""
    if not report.entries:
        return False
    # Like Discord's: spend by user, each by name, under the workspace's name.
    labels = await user_names(deps.client, report.by("user_id"))
    workspace = await team_name(deps.client, origin.team_id)
    png = await asyncio.to_thread(
        usage_chart_png, report, by="user_id", labels=labels, workspace=workspace
    )
    stem = file_stem(report)
    try:
        dm = await deps.client.conversations_open(users=origin.user_id)
        await deps.client.files_upload_v2(
            channel=str(dm["channel"]["id"]),
            file_uploads=[
                {"file": png, "filename": f"{stem}.png", "title": "Spend per day"},
                {"file": usage_csv(report).encode(), "filename": f"{stem}.csv", "title": "Ledger"},
            ],
            initial_comment=f"Usage since {report.since:%Y-%m-%d}",
        )
    except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("could not send the usage chart: %s", type(exc).__name__)
        return False
    return True


async def _run(deps: Deps, actor: Actor, words: list[str]) -> AdminResult:
    service = deps.admin
    match words:
        case ["quota", "set", target, capacity, refill]:
            if target.lower() in _WORKSPACE:
                return await service.quota_set(
                    actor, actor.workspace_id, capacity, refill, scope=QuotaScope.WORKSPACE
                )
            return await service.quota_set(actor, slack_id(target), capacity, refill)
        case ["quota", "show", target]:
            return await service.quota_show(actor, slack_id(target))
        case ["budget", "set", daily, monthly]:
            return await service.budget_set(actor, daily, monthly)
        case ["models", "allow", model]:
            return await service.models_allow(actor, model)
        case ["models", "deny", model]:
            return await service.models_deny(actor, model)
        case ["nsfw", mode]:
            return await service.nsfw_set(actor, mode)
        case ["ban", user]:
            return await service.ban(actor, slack_id(user))
        case ["unban", user]:
            return await service.unban(actor, slack_id(user))
        case ["refund", job]:
            return await service.refund(actor, job.strip("`"))
    problem = (
        "Which admin command?" if not words else f"I don't know `/admin {' '.join(words)[:60]}`."
    )
    raise usage_error(problem, "\n" + ADMIN_USAGE)
