"""The buttons (and a grid's menus) under a result in Slack, as Block Kit. Their action ids name
the action, and the job id is their value: the job lives in the store, so they work after a
restart. Which ones a result gets is core's decision (`core.followups.follow_up_menu`).

One image: its verbs in one actions block (Slack allows 25 elements in one), then Rerun, Edit,
Edit region and Delete. A grid: one menu (`static_select`) per image with every verb and Edit, as on
Discord, then Rerun and Delete: Slack would fit a button per verb per image (48) in two
blocks, but four rows of eleven look-alike buttons are unreadable, and the menus say which
image each choice is for."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from core.followups import follow_up_menu
from core.jobs import Delivery
from core.verbs import VERBS

Block = dict[str, Any]

RERUN = "falbot_rerun"
EDIT = "falbot_edit"
REGION = "falbot_region"  # Edit region: a private link to the region painter's page
DELETE = "falbot_delete"
PICK = "falbot_pick"  # a grid image's menu: `falbot_pick_2`; the choice is its value
IMAGINE = "falbot_imagine"  # a describe's suggestion: `falbot_imagine_2` (`image_verbs`)
VERB_IDS = {f"falbot_{v.action}": v.action for v in VERBS}
# Action ids of results posted by earlier falbots: issue 12's Variations (now Vary (Strong)).
_LEGACY = {"falbot_vary": "vary_strong"}
ACTIONS = {
    **VERB_IDS,
    **_LEGACY,
    RERUN: "rerun",
    EDIT: "edit",
    REGION: "region",
    DELETE: "delete",
    PICK: "pick",
}
# An earlier grid's buttons named their image after the action (`falbot_upscale_2`).
RESULT_ACTION = re.compile(
    "(" + "|".join(re.escape(a) for a in sorted(ACTIONS, key=len, reverse=True)) + r")"
    r"(?:_([1-9]\d?))?"
)
_MENU_CHOICES = [(v.label, v.action) for v in VERBS]
_MENU_CHOICES[2:2] = [("Edit…", "edit"), ("Edit region…", "region")]


def result_action(action_id: str) -> tuple[str, int | None]:
    """(action, 0-based image or None) of a result button's or menu's action id."""
    match = RESULT_ACTION.fullmatch(action_id)
    if match is None:
        return action_id, None
    return ACTIONS[match[1]], int(match[2]) - 1 if match[2] else None


def actions(delivery: Delivery, file_ids: Sequence[str]) -> list[Block]:
    """The actions blocks under a result. Slack has no spoilers, so a spoilered output is not
    shown and gets no verb; a withheld one never does."""
    job = delivery.job
    menu = follow_up_menu(delivery, spoilers=False)
    blocks: list[Block] = []
    if menu.images and menu.grid:
        menus = [_menu(job.id, image) for image in menu.images]
        blocks.append(_block(f"falbot_images_{job.short_id}", menus))
    elif menu.images:
        verbs = [_button(v.label, f"falbot_{v.action}", job.id) for v in VERBS]
        blocks.append(_block(f"falbot_verbs_{job.short_id}", verbs))
    last = []
    if menu.rerun:
        last.append(_button("Rerun", RERUN, job.id))
    if menu.images and not menu.grid:
        last.append(_button("Edit", EDIT, job.id))
        last.append(_button("🖌️ Edit region", REGION, job.id))
    last += [
        _button(f"Imagine {i + 1}", f"{IMAGINE}_{i + 1}", job.id)
        for i in range(len(delivery.result.texts))
    ]
    last.append(_delete(job.id, file_ids))
    blocks.append(_block(f"falbot_result_{job.short_id}", last))
    return blocks


def _menu(job_id: str, image: int) -> Block:
    return {
        "type": "static_select",
        "action_id": f"{PICK}_{image + 1}",
        "placeholder": {"type": "plain_text", "text": f"Image {image + 1}: vary, zoom, pan…"},
        "options": [
            {"text": {"type": "plain_text", "text": label}, "value": f"{action}:{job_id}"}
            for label, action in _MENU_CHOICES
        ],
    }


def _block(block_id: str, elements: list[Block]) -> Block:
    return {"type": "actions", "block_id": block_id, "elements": elements}


def _button(label: str, action_id: str, value: str) -> Block:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }


def _delete(job_id: str, file_ids: Sequence[str]) -> Block:
    value = json.dumps({"job": job_id, "files": list(file_ids)}, separators=(",", ":"))
    return {
        **_button("Delete", DELETE, value),
        "style": "danger",
        "confirm": {
            "title": {"type": "plain_text", "text": "Delete this result?"},
            "text": {"type": "plain_text", "text": "The message and its files are removed."},
            "confirm": {"type": "plain_text", "text": "Delete"},
            "deny": {"type": "plain_text", "text": "Keep"},
        },
    }
