"""What a quote's Confirm and Cancel do on Slack: Confirm starts the quoted job where it was
asked for (through the full admission, once); Cancel ends the quote, taking nothing. Core
refuses a press by anyone but the requester, a lapsed quote and a second answer, each in its
own words (an ephemeral answer, as every refusal)."""

from __future__ import annotations

from typing import Any

from adapters.slack.context import Origin
from adapters.slack.deps import Deps
from adapters.slack.quotes import CANCEL, cancelled, confirmed, replace_quote


async def on_quote_button(deps: Deps, origin: Origin, body: dict[str, Any]) -> None:
    action = (body.get("actions") or [{}])[0]
    quote_id = str(action.get("value", ""))
    actor = await deps.identities.actor(origin)
    quotes = deps.engine.quotes
    if action.get("action_id") == CANCEL:
        quote = await quotes.take(quote_id, actor, confirmed=False)
        await replace_quote(origin.response_url, cancelled(quote))
        return
    quote = await quotes.pending(quote_id, actor)
    place = quote.place
    thread_ts = place.get("thread_ts")
    await deps.starter.start(
        actor=actor,
        channel=str(place.get("channel") or origin.channel_id),
        thread_ts=str(thread_ts) if thread_ts else None,
        prompt=str(place.get("prompt") or ""),
        what=str(place.get("what") or quote.model),
        command=quote.command,
        confirming=quote,
    )
    await replace_quote(origin.response_url, confirmed(quote))
