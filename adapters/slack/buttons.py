"""The buttons under a result: Rerun, Upscale, Edit, Delete (a grid's U1…, E1… name their image
in the action id). Their value is the job id, and the job is read from the store, so a button
works the same after a restart. Slack has no spoilers: every request made here says so, and core
refuses a flagged image that Slack would not show."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from adapters.slack import render
from adapters.slack.context import Origin
from adapters.slack.deps import Deps
from adapters.slack.region import edit_region
from adapters.slack.remix import open_remix
from adapters.slack.shortcuts import open_edit_modal
from adapters.slack.submit import SLACK_CHANNEL
from core.commands import FollowUp, FollowUpAction
from core.errors import invalid
from core.jobs import Actor

log = logging.getLogger(__name__)

_FOLLOW_UPS: dict[str, FollowUpAction] = {render.RERUN: "rerun", render.VARY: "vary"}


async def on_result_button(deps: Deps, origin: Origin, body: dict[str, Any]) -> None:
    action = (body.get("actions") or [{}])[0]
    action_id, image = render.result_action(str(action.get("action_id", "")))
    value = str(action.get("value", ""))
    message = body.get("message") or {}
    message_ts = str(message.get("ts") or (body.get("container") or {}).get("message_ts") or "")
    thread_ts = str(message.get("thread_ts") or message_ts)
    actor = await deps.identities.actor(origin)

    if action_id == render.DELETE:
        await _delete(deps, actor, value, channel=origin.channel_id, message_ts=message_ts)
        return
    if action_id == render.REGION:
        await edit_region(deps, origin, actor, body, job_id=value, image=image, thread_ts=thread_ts)
        return
    if action_id == render.EDIT:
        # Not the caller's, or a withheld image: refused before the modal asks for a prompt.
        command = FollowUp(value, "edit", image_index=image)
        job = await deps.engine.check_follow_up(command, actor=actor, channel=SLACK_CHANNEL)
        metadata = {"job": job.id, "c": origin.channel_id, "t": thread_ts, "i": image}
        await open_edit_modal(deps, origin, trigger_id=str(body["trigger_id"]), metadata=metadata)
        return
    follow: FollowUpAction = _FOLLOW_UPS.get(action_id, "upscale")
    job = await deps.engine.own_job(actor, value, doing=follow)
    command = FollowUp(job.id, follow, image_index=image)
    if await open_remix(deps, origin, actor=actor, job=job, command=command, thread_ts=thread_ts):
        return  # remix mode: the modal's prompt starts the job
    await deps.starter.start(
        actor=actor,
        channel=origin.channel_id,
        thread_ts=thread_ts,
        prompt=str(job.arguments.get("prompt") or "") if follow != "upscale" else "",
        what=f"{'variations' if follow == 'vary' else follow} of {job.short_id}",
        command=command,
    )


async def _delete(deps: Deps, actor: Actor, value: str, *, channel: str, message_ts: str) -> None:
    try:
        data = json.loads(value)
        job_id, file_ids = str(data["job"]), [str(f) for f in data.get("files", [])]
    except (ValueError, KeyError, TypeError):
        raise invalid("That button is broken.") from None
    await deps.engine.own_job(actor, job_id, doing="delete")  # the requester or an admin
    for file_id in file_ids:
        try:
            await deps.client.files_delete(file=file_id)
        except SlackApiError as exc:
            log.info("could not delete file %s: %s", file_id, exc.response.get("error"))
    await deps.client.chat_delete(channel=channel, ts=message_ts)
