"""Usage charts on Slack: the chart and CSV uploaded into the person's DM with the bot (Slack
cannot attach a file to an ephemeral answer, and a channel is no place for someone's spend)."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from slack_sdk.errors import SlackClientError

from adapters.slack.context import Origin
from adapters.slack.deps import Deps
from adapters.slack.names import team_name, user_names
from adapters.usage_chart import By, file_stem, usage_chart_png, usage_csv
from core.usage import UsageReport

log = logging.getLogger(__name__)


async def send_usage_chart(deps: Deps, origin: Origin, report: UsageReport) -> bool:
    """Upload the report's chart and CSV into the user's DM; False when there is nothing to
    chart or Slack refused (the text answer still goes out)."""
    if not report.entries:
        return False
    # Like Discord's: everyone's spend by user, each by name, under the workspace's name.
    by: By = "user_id" if report.user_id is None else "model"
    labels = await user_names(deps.client, report.by("user_id"))
    workspace = await team_name(deps.client, origin.team_id)
    png = await asyncio.to_thread(
        usage_chart_png, report, by=by, labels=labels, workspace=workspace
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
