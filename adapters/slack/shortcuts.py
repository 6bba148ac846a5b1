"""The **Edit image** message shortcut and the edit modal (also opened by a result's Edit)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from adapters.slack import render
from adapters.slack.context import Origin
from adapters.slack.deps import Deps
from adapters.slack.submit import SLACK_CHANNEL
from core.commands import Command, FollowUp, Generate
from core.errors import invalid
from core.jobs import JobKind

_METADATA_MAX = 3000


async def open_edit_modal(
    deps: Deps, origin: Origin, *, trigger_id: str, metadata: dict[str, Any]
) -> None:
    specs = [s for s in await deps.engine.models(origin.team_id) if s.kind is JobKind.EDIT]
    if not specs:
        raise invalid("No edit model is allowed in this workspace.", "Ask an admin.")
    default = deps.models.default_for(JobKind.EDIT).name
    view = render.edit_modal(specs, default=default, metadata=metadata)
    await deps.client.views_open(trigger_id=trigger_id, view=view)


async def on_edit_shortcut(deps: Deps, origin: Origin, body: dict[str, Any]) -> None:
    """A message's **Edit image**: check it has an image, then ask for the prompt and model."""
    message = body.get("message") or {}
    files = deps.files.images(message.get("files") or [])
    if not files:
        raise invalid("That message has no image.", "Use **Edit image** on a message with one.")
    await screen_files(deps, origin, files)  # a withheld result: refused before the modal
    refs = [
        {
            "u": f.get("url_private_download") or f.get("url_private"),
            "m": f.get("mimetype"),
            "n": str(f.get("name") or "")[:60],
        }
        for f in files[:14]
    ]
    thread_ts = str(message.get("thread_ts") or message.get("ts") or "")
    metadata: dict[str, Any] = {"c": origin.channel_id, "t": thread_ts, "f": refs}
    # A modal's private_metadata holds at most 3,000 characters: keep the images that fit.
    while len(refs) > 1 and len(json.dumps(metadata)) > _METADATA_MAX:
        refs.pop()
    await open_edit_modal(deps, origin, trigger_id=str(body["trigger_id"]), metadata=metadata)


async def screen_files(deps: Deps, origin: Origin, files: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the files hold a falbot result flagged NSFW (Slack shows those only under
    `allow`); refused where it is not shown."""
    names = [str(f.get("name") or "") for f in files]
    return await deps.engine.screen_files(origin.team_id, names, channel=SLACK_CHANNEL)


def modal_metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        meta = None
    return meta if isinstance(meta, dict) else {}


def modal_origin(body: dict[str, Any]) -> Origin:
    """A modal submission has no channel of its own: the modal's metadata names it."""
    meta = modal_metadata(body.get("view") or {})
    user = body.get("user") or {}
    return Origin(
        team_id=str((body.get("team") or {}).get("id") or user.get("team_id") or ""),
        user_id=str(user.get("id", "")),
        channel_id=str(meta.get("c", "")),
        thread_ts=str(meta.get("t") or "") or None,
        user_name=str(user.get("username") or user.get("name") or ""),
    )


async def on_edit_submitted(deps: Deps, origin: Origin, view: dict[str, Any]) -> None:
    """The modal's prompt and model → an edit of the shortcut's image or of a result."""
    values = (view.get("state") or {}).get("values") or {}
    prompt = str(
        (values.get(render.PROMPT_BLOCK, {}).get(render.PROMPT_INPUT) or {}).get("value") or ""
    ).strip()
    chosen = values.get(render.MODEL_BLOCK, {}).get(render.MODEL_INPUT) or {}
    model = str((chosen.get("selected_option") or {}).get("value") or "")
    meta = modal_metadata(view)
    channel, thread_ts = origin.channel_id, origin.thread_ts
    actor = await deps.identities.actor(origin)

    command: Command
    if meta.get("job"):  # the Edit button of a result: core checks the submitter again
        image = meta.get("i")
        command = FollowUp(
            str(meta["job"]),
            "edit",
            image_index=image if isinstance(image, int) else None,
            prompt=prompt,
            model=model or None,
        )
    else:
        files = [
            {"url_private_download": f["u"], "mimetype": f.get("m"), "name": f.get("n", "")}
            for f in meta.get("f", [])
        ]
        generate = Generate(JobKind.EDIT, model, {"prompt": prompt})
        spec = await deps.engine.precheck(generate, actor=actor)
        # Checked again now: the NSFW mode may have changed while the modal was open.
        flagged = await screen_files(deps, origin, files)
        images = await deps.files.fetch(files, limit=spec.max_input_images)
        command = generate.with_images(images, flagged=flagged)
    await deps.starter.start(
        actor=actor,
        channel=channel,
        thread_ts=thread_ts,
        prompt=prompt,
        what=model or "edit",
        command=command,
    )
