"""What the buttons and menus under a result do (`result_actions` lays them out): Rerun and the
image verbs start a child job posted in the result's thread, Edit opens the edit modal, Delete
removes the result. The job is read from the store, so they work the same after a restart.
Slack has no spoilers: every request made here says so, and core refuses a flagged image that
Slack would not show."""

from __future__ import annotations

import json
import logging
from typing import Any, cast

from slack_sdk.errors import SlackApiError

from adapters.slack import result_actions
from adapters.slack.context import Origin
from adapters.slack.deps import Deps
from adapters.slack.region import edit_region
from adapters.slack.remix import open_remix
from adapters.slack.shortcuts import open_edit_modal
from adapters.slack.submit import SLACK_CHANNEL
from core.commands import FollowUp, FollowUpAction
from core.errors import invalid
from core.jobs import Actor
from core.verbs import BY_ACTION

log = logging.getLogger(__name__)


async def on_result_button(deps: Deps, origin: Origin, body: dict[str, Any]) -> None:
    action = (body.get("actions") or [{}])[0]
    verb, image = result_actions.result_action(str(action.get("action_id", "")))
    value = str(action.get("value", ""))
    if verb == "pick":  # a grid image's menu: the choice is `action:job`
        verb, _, value = str((action.get("selected_option") or {}).get("value", "")).partition(":")
    message = body.get("message") or {}
    message_ts = str(message.get("ts") or (body.get("container") or {}).get("message_ts") or "")
    thread_ts = str(message.get("thread_ts") or message_ts)
    actor = await deps.identities.actor(origin)

    if verb == "delete":
        await _delete(deps, actor, value, channel=origin.channel_id, message_ts=message_ts)
        return
    if verb == "region":
        await edit_region(deps, origin, actor, body, job_id=value, image=image, thread_ts=thread_ts)
        return
    if verb == "edit":
        # Not the caller's, or a withheld image: refused before the modal asks for a prompt.
        command = FollowUp(value, "edit", image_index=image)
        job = await deps.engine.check_follow_up(command, actor=actor, channel=SLACK_CHANNEL)
        metadata = {"job": job.id, "c": origin.channel_id, "t": thread_ts, "i": image}
        await open_edit_modal(deps, origin, trigger_id=str(body["trigger_id"]), metadata=metadata)
        return
    if verb != "rerun" and verb not in BY_ACTION:
        raise invalid("That button is broken.", "Use the buttons under a newer result.")
    follow = cast(FollowUpAction, verb)
    command = FollowUp(value, follow, image_index=image)
    job = await deps.engine.check_follow_up(command, actor=actor, channel=SLACK_CHANNEL)
    parent_url = await _permalink(deps, origin.channel_id, message_ts)
    if await open_remix(
        deps,
        origin,
        actor=actor,
        job=job,
        command=command,
        thread_ts=thread_ts,
        parent_url=parent_url,
    ):
        return  # remix mode: the modal's prompt starts the job
    label = BY_ACTION[verb].label if verb in BY_ACTION else "Rerun"
    await deps.starter.start(
        actor=actor,
        channel=origin.channel_id,
        thread_ts=thread_ts,
        prompt=str(job.arguments.get("prompt") or ""),
        what=f"{label} of {job.short_id}",
        command=command,
        parent_url=parent_url,
    )


async def _permalink(deps: Deps, channel: str, message_ts: str) -> str:
    """The parent result's link for the child's footer; none when Slack gives none."""
    if not message_ts:
        return ""
    try:
        answer = await deps.client.chat_getPermalink(channel=channel, message_ts=message_ts)
    except SlackApiError as exc:
        log.info("no permalink for %s: %s", message_ts, exc.response.get("error"))
        return ""
    return str(answer.get("permalink") or "")


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
