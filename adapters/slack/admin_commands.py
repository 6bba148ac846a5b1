"""`/falbot admin …`: read by the text grammar (`adapters.text_commands.admin`), checked and
done by core's `AdminService`; answers are ephemeral."""

from __future__ import annotations

from adapters.slack.context import Origin
from adapters.slack.deps import Deps
from adapters.slack.options import slack_id, unescape
from adapters.slack.usage import send_usage_chart
from adapters.text_commands.admin import admin_usage, read_admin, run_admin
from core.render import render_usage

PREFIX = "/falbot "
ADMIN_USAGE = admin_usage(PREFIX)


async def admin(deps: Deps, origin: Origin, text: str) -> None:
    command = read_admin(unescape(text).split(), prefix=PREFIX)
    actor = await deps.identities.actor(origin)  # admin rights are looked up on every call
    if command.words == ("usage",):
        report = await deps.admin.usage(actor, days=command.days)
        sent = await send_usage_chart(deps, origin, report)
        note = "\nThe chart and a CSV are in your DMs with me." if sent else ""
        await deps.answers.text(origin, render_usage(report) + note)
        return
    result = await run_admin(deps.admin, actor, command, person=slack_id)
    await deps.answers.text(origin, result)
