"""The buttons under a result: Rerun, Upscale, Edit, Delete (a grid's U1…, E1… name their image
in the action id). Their value is the job id, and the job is read from the store, so a button
works the same after a restart. Slack has no spoilers: every request made here says so, and core
refuses a flagged image that Slack would not show."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from typing import Any, Literal

from slack_sdk.errors import SlackApiError

from adapters.slack import render
from adapters.slack.context import Origin
from adapters.slack.deps import Deps
from adapters.slack.shortcuts import open_edit_modal
from core.errors import BotError, ErrorCode, invalid
from core.jobs import Actor, Job, JobRequest

log = logging.getLogger(__name__)


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
    job = await _job(deps, actor, value)
    if action_id == render.EDIT:
        # A withheld image is refused before the modal asks for a prompt.
        await deps.engine.check_follow_up(job, image=image, nsfw_channel=False, spoilers=False)
        metadata = {"job": job.id, "c": origin.channel_id, "t": thread_ts, "i": image}
        await open_edit_modal(deps, origin, trigger_id=str(body["trigger_id"]), metadata=metadata)
        return
    follow: Literal["rerun", "upscale"] = "rerun" if action_id == render.RERUN else "upscale"

    def build(ref: Mapping[str, Any]) -> JobRequest:
        request = deps.engine.follow_up(job, action=follow, actor=actor, reply_ref=ref, index=image)
        return dataclasses.replace(request, spoilers=False)

    await deps.starter.start(
        actor=actor,
        channel=origin.channel_id,
        thread_ts=thread_ts,
        prompt=str(job.arguments.get("prompt") or "") if follow == "rerun" else "",
        what=f"{follow} of {job.short_id}",
        build=build,
    )


async def _job(deps: Deps, actor: Actor, job_id: str) -> Job:
    try:
        return await deps.engine.find_job(actor, job_id)
    except BotError as err:
        if err.code is ErrorCode.NOT_FOUND:
            raise BotError(
                ErrorCode.NOT_ALLOWED,
                "Only the person who asked for this result, or an admin, can use its buttons.",
                hint="Start your own with /imagine.",
            ) from None
        raise


async def _delete(deps: Deps, actor: Actor, value: str, *, channel: str, message_ts: str) -> None:
    try:
        data = json.loads(value)
        job_id, file_ids = str(data["job"]), [str(f) for f in data.get("files", [])]
    except (ValueError, KeyError, TypeError):
        raise invalid("That button is broken.") from None
    await _job(deps, actor, job_id)  # the requester or an admin, nobody else
    for file_id in file_ids:
        try:
            await deps.client.files_delete(file=file_id)
        except SlackApiError as exc:
            log.info("could not delete file %s: %s", file_id, exc.response.get("error"))
    await deps.client.chat_delete(channel=channel, ts=message_ts)
