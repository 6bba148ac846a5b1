"""Help on Slack: `/falbot help`, `@falbot help`, and the App Home tab, all from core's one
help text (`core.help`), with the user's credits."""

from __future__ import annotations

import logging

import aiohttp
from slack_sdk.errors import SlackClientError

from adapters.slack import render
from adapters.slack.context import Origin
from adapters.slack.deps import Deps
from core.errors import BotError
from core.help import render_help

log = logging.getLogger(__name__)


async def help_text(deps: Deps, origin: Origin) -> str:
    actor = await deps.identities.actor(origin)
    try:
        quota = await deps.engine.quota(actor)
    except BotError:
        quota = None  # help is still worth showing without the credits
    return render_help("slack", quota, admin=actor.is_admin)


async def show_help(deps: Deps, origin: Origin) -> None:
    """Help as an answer only the asker sees."""
    await deps.answers.text(origin, await help_text(deps, origin))


async def publish_home(deps: Deps, origin: Origin) -> None:
    """The App Home tab: the same help, for the person who opened it."""
    view = render.home(await help_text(deps, origin))
    try:
        await deps.client.views_publish(user_id=origin.user_id, view=view)
    except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("could not publish the Home tab: %s", type(exc).__name__)
