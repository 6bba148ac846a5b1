"""A quote in Slack (`core.confirmations`): an ephemeral message to its requester with
**Confirm** and **Cancel** buttons (Block Kit), whose value is the quote's id, so a press works
after a restart too. Confirm starts the quoted job where it was asked for; Cancel ends the quote;
both replace the quote's message through the press's `response_url`."""

from __future__ import annotations

import logging
import re
from typing import Any

import aiohttp
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack import render
from core.confirmations import PriceQuote
from core.money import format_usd

log = logging.getLogger(__name__)

CONFIRM = "falbot_quote_confirm"
CANCEL = "falbot_quote_cancel"
QUOTE_ACTION = re.compile(f"^({CONFIRM}|{CANCEL})$")

Block = dict[str, Any]


def quote_blocks(quote: PriceQuote) -> tuple[str, list[Block]]:
    """The quote's words (core's, as every surface says them) and its two buttons."""
    text = quote.text()
    buttons: Block = {
        "type": "actions",
        "block_id": "falbot_quote",
        "elements": [
            {
                "type": "button",
                "action_id": CONFIRM,
                "text": {"type": "plain_text", "text": f"Confirm {format_usd(quote.estimate_usd)}"},
                "style": "primary",
                "value": quote.id,
            },
            {
                "type": "button",
                "action_id": CANCEL,
                "text": {"type": "plain_text", "text": "Cancel"},
                "value": quote.id,
            },
        ],
    }
    return render.plain(text), [*render.text_blocks(":moneybag: " + text), buttons]


async def post_quote(
    client: AsyncWebClient, quote: PriceQuote, *, channel: str, thread_ts: str | None
) -> None:
    """Show the quote to its requester only (an ephemeral message where they asked)."""
    text, blocks = quote_blocks(quote)
    await client.chat_postEphemeral(
        channel=channel, user=quote.user_id, text=text, blocks=blocks, thread_ts=thread_ts
    )


async def replace_quote(response_url: str | None, said: str) -> None:
    """Replace the pressed quote (ephemeral) with what became of it, without its buttons."""
    if not response_url:
        return
    text, blocks = render.answer(said)
    try:
        await AsyncWebhookClient(response_url).send(
            text=text, blocks=blocks, replace_original=True, response_type="ephemeral"
        )
    except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
        log.info("could not replace a quote's message: %s", type(exc).__name__)


def cancelled(quote: PriceQuote) -> str:
    return (
        f"Cancelled: {quote.model} for {format_usd(quote.estimate_usd)} was not started, and"
        " nothing was taken."
    )


def confirmed(quote: PriceQuote) -> str:
    return f"Confirmed: {quote.model} for {format_usd(quote.estimate_usd)} is starting."
