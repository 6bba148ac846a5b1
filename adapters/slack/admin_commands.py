"""`/falbot admin …`: parsed here, checked and done by core's `AdminService`; answers are
ephemeral."""

from __future__ import annotations

from adapters.slack.context import Origin
from adapters.slack.deps import Deps
from adapters.slack.options import parse_days, slack_id, unescape, usage_error
from adapters.slack.usage import send_usage_chart
from core.admin import AdminResult
from core.jobs import Actor
from core.quota import QuotaScope
from core.render import render_admin, render_usage

ADMIN_USAGE = "\n".join(
    [
        "`/falbot admin quota set <@user|workspace> <capacity> <refill_per_hour>`",
        "`/falbot admin quota show <@user>`",
        "`/falbot admin budget set <daily_usd|none> <monthly_usd|none>`",
        "`/falbot admin models allow|deny <model>`",
        "`/falbot admin nsfw <withhold|spoiler|allow>` (flagged outputs outside NSFW channels)",
        "`/falbot admin ban|unban <@user>`",
        "`/falbot admin usage [days]`",
        "`/falbot admin refund <job id>`",
    ]
)
_WORKSPACE = frozenset({"workspace", "everyone", "default", "all"})


async def admin(deps: Deps, origin: Origin, text: str) -> None:
    words = unescape(text).split()
    actor = await deps.identities.actor(origin)  # admin rights are looked up on every call
    if words[:1] == ["usage"]:
        days = parse_days(" ".join(words[1:]), usage=ADMIN_USAGE)
        report = await deps.admin.usage(actor, days=days)
        sent = await send_usage_chart(deps, origin, report)
        note = "\nThe chart and a CSV are in your DMs with me." if sent else ""
        await deps.answers.text(origin, render_usage(report) + note)
        return
    result = await _run(deps, actor, words)
    await deps.answers.text(origin, render_admin(result))


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
    typed = " ".join(words)[:60]
    problem = "Which admin command?" if not words else f"I don't know `/falbot admin {typed}`."
    raise usage_error(problem, "\n" + ADMIN_USAGE)
