"""`/falbot settings`: an ephemeral Block Kit panel of select menus (image model, aspect, count,
the modes) and a Reset button, for the person's own defaults or (admins, `/falbot settings
workspace`) the workspace's; `/falbot settings reset` forgets them. A menu's answer replaces
the panel in place through the action's `response_url`."""

from __future__ import annotations

import logging
import re
from typing import Any

import aiohttp
from slack_sdk.errors import SlackClientError
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack import render
from adapters.slack.context import Origin
from adapters.slack.deps import Deps
from adapters.text_commands.settings import read_settings
from core.preferences import Scope, Settings
from core.settings_view import (
    LABELS,
    MODES_MENU,
    Choice,
    choose,
    field_choices,
    mode_choices,
    render_settings,
)

log = logging.getLogger(__name__)

SETTINGS_ACTION = re.compile(
    r"^falbot_set_(?P<scope>me|ws)_(?P<menu>model|aspect_ratio|num_images|modes|reset)$"
)
_SCOPES: dict[str, Scope] = {"me": "user", "ws": "workspace"}
_CODES = {scope: code for code, scope in _SCOPES.items()}
CHANGE = (
    "Change them with the menus below (or type `/falbot settings aspect 16:9 count 2`); Reset"
    " puts back the defaults."
)

Block = dict[str, Any]


async def settings_command(deps: Deps, origin: Origin, text: str) -> None:
    """`/falbot settings` (the panel), `… reset`, `… aspect 16:9 count 2` (typed changes);
    `workspace` first for the workspace's defaults (admins)."""
    line = read_settings(text.split(), prefix="/falbot ")
    actor = await deps.identities.actor(origin)
    book = deps.engine.preferences
    note = ""
    if line.reset:
        await book.reset(actor, scope=line.scope)
        whose = "Your settings are" if line.scope == "user" else "The workspace's defaults are"
        note = f"{whose} reset."
    elif line.changes:
        await book.change(actor, line.changes, scope=line.scope)
        note = "Saved."
    else:
        book.check_scope(actor, line.scope)
    text_, blocks = await panel(deps, origin, line.scope, note=note)
    await deps.answers.tell(origin, text_, blocks)


async def on_settings_action(deps: Deps, origin: Origin, body: dict[str, Any]) -> None:
    """A panel's menu or its Reset button: change, then show the panel again in its place."""
    action = (body.get("actions") or [{}])[0]
    match = SETTINGS_ACTION.match(str(action.get("action_id", "")))
    if match is None:
        return
    scope, menu = _SCOPES[match["scope"]], match["menu"]
    actor = await deps.identities.actor(origin)
    book = deps.engine.preferences
    if menu == "reset":
        await book.reset(actor, scope=scope)
    else:
        chosen = action.get("selected_options")
        if chosen is None:
            chosen = [action.get("selected_option")] if action.get("selected_option") else []
        values = [str(o.get("value", "")) for o in chosen]
        await choose(book, actor, menu, values, scope=scope)
    text, blocks = await panel(deps, origin, scope)
    await _replace(deps, origin, text, blocks)


async def panel(
    deps: Deps, origin: Origin, scope: Scope, *, note: str = ""
) -> tuple[str, list[Block]]:
    actor = await deps.identities.actor(origin)
    settings = await deps.engine.preferences.settings(actor)
    models = await deps.engine.models(actor.workspace_id)
    shown = render_settings(settings, scope=scope, change=CHANGE)
    text = f"{note}\n{shown}" if note else shown
    return render.answer(text)[0], [*render.text_blocks(text), _menus(settings, scope, models)]


def _menus(settings: Settings, scope: Scope, models: list[Any]) -> Block:
    code = _CODES[scope]
    elements = [
        _select(code, name, field_choices(name, settings, scope=scope, models=models))
        for name in ("model", "aspect_ratio", "num_images")
    ]
    modes = mode_choices(settings, scope=scope)
    multi: Block = {
        "type": "multi_static_select",
        "action_id": f"falbot_set_{code}_{MODES_MENU}",
        "placeholder": _plain("Modes on"),
        "options": [_option(c) for c in modes],
    }
    chosen = [_option(c) for c in modes if c.chosen]
    if chosen:
        multi["initial_options"] = chosen
    label = "Reset mine" if scope == "user" else "Reset the workspace's"
    reset = {"type": "button", "action_id": f"falbot_set_{code}_reset", "text": _plain(label)}
    return {"type": "actions", "block_id": "falbot_settings", "elements": [*elements, multi, reset]}


def _select(code: str, name: str, choices: list[Choice]) -> Block:
    select: Block = {
        "type": "static_select",
        "action_id": f"falbot_set_{code}_{name}",
        "placeholder": _plain(LABELS[name]),  # type: ignore[index]
        "options": [_option(c) for c in choices],
    }
    chosen = next((c for c in choices if c.chosen), None)
    if chosen is not None:
        select["initial_option"] = _option(chosen)
    return select


def _option(choice: Choice) -> Block:
    return {"text": _plain(choice.label[:75]), "value": choice.value}


def _plain(text: str) -> Block:
    return {"type": "plain_text", "text": text}


async def _replace(deps: Deps, origin: Origin, text: str, blocks: list[Block]) -> None:
    """The panel shown again in place (its `response_url`), else as a new ephemeral answer."""
    if origin.response_url:
        try:
            hook = AsyncWebhookClient(origin.response_url)
            resp = await hook.send(
                text=text, blocks=blocks, response_type="ephemeral", replace_original=True
            )
            if resp.status_code == 200:
                return
            log.warning("response_url answered %s; answering anew", resp.status_code)
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("could not update the settings panel: %s", type(exc).__name__)
    await deps.answers.tell(origin, text, blocks)
