"""Remix mode on Slack: a press of Rerun (and Vary, Pan, Zoom as they come) by someone with
remix mode on first opens a modal (`views.open`) with the job's prompt to change. Core decides
when (`PreferenceBook.wants_remix`); the modal's prompt rides on the same follow-up."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from adapters.slack.context import Origin
from adapters.slack.deps import Deps
from adapters.slack.shortcuts import modal_metadata
from adapters.slack.submit import SLACK_CHANNEL
from adapters.text_commands.grammar import usage_error
from core.commands import FollowUp
from core.errors import invalid
from core.jobs import Actor, Job
from core.model_inputs import MAX_PROMPT
from core.verbs import BY_ACTION

REMIX_MODAL = "falbot_remix_modal"
_BLOCK, _INPUT = "remix_prompt", "remix_prompt_input"


async def open_remix(
    deps: Deps,
    origin: Origin,
    *,
    actor: Actor,
    job: Job,
    command: FollowUp,
    thread_ts: str,
    parent_url: str = "",
) -> bool:
    """Open the remix modal for `command` on the caller's own `job` when their remix mode asks
    for it; False when the press should go ahead as it is."""
    if not await deps.engine.preferences.wants_remix(actor, command.action, job):
        return False
    if not origin.trigger_id:
        raise invalid("Slack did not let me open a form here.", "Press the button again.")
    metadata = {"f": dataclasses.asdict(command), "c": origin.channel_id, "t": thread_ts}
    if parent_url:
        metadata["p"] = parent_url  # the parent's link, for the child's footer
    prompt = str(job.arguments.get("prompt") or "")
    await deps.client.views_open(trigger_id=origin.trigger_id, view=_modal(prompt, metadata))
    return True


def _modal(prompt: str, metadata: dict[str, Any]) -> dict[str, Any]:
    action = str(metadata["f"]["action"])
    verb = BY_ACTION.get(action)
    name = verb.label if verb else action.capitalize()
    return {
        "type": "modal",
        "callback_id": REMIX_MODAL,
        "private_metadata": json.dumps(metadata, separators=(",", ":"))[:3000],
        "title": {"type": "plain_text", "text": f"Remix: {name}"[:24]},
        "submit": {"type": "plain_text", "text": name[:24]},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": _BLOCK,
                "label": {"type": "plain_text", "text": "Prompt"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": _INPUT,
                    "multiline": True,
                    "max_length": MAX_PROMPT,
                    "initial_value": prompt[:MAX_PROMPT],
                },
            }
        ],
    }


async def on_remix_submitted(deps: Deps, origin: Origin, view: dict[str, Any]) -> None:
    """The changed prompt → the follow-up the button asked for (core checks the job again)."""
    values = (view.get("state") or {}).get("values") or {}
    prompt = str((values.get(_BLOCK, {}).get(_INPUT) or {}).get("value") or "").strip()
    meta = modal_metadata(view)
    try:
        command = FollowUp(**meta["f"])
    except (KeyError, TypeError):
        raise invalid("That form is broken.", "Press the button again.") from None
    if not prompt:
        raise usage_error("Tell me the prompt.", "Change the prompt in the form and submit it.")
    actor = await deps.identities.actor(origin)
    # Core checks the submitter against the job again (the image verbs are anyone's).
    job = await deps.engine.check_follow_up(command, actor=actor, channel=SLACK_CHANNEL)
    verb = BY_ACTION.get(command.action)
    await deps.starter.start(
        actor=actor,
        channel=origin.channel_id,
        thread_ts=str(meta.get("t") or "") or None,
        prompt=prompt,
        what=f"{verb.label if verb else command.action} of {job.short_id}",
        command=dataclasses.replace(command, prompt=prompt),
        parent_url=str(meta.get("p") or ""),
    )
