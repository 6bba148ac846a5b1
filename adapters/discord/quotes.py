"""A quote's Confirm and Cancel buttons on Discord (`core.confirmations`). Their `custom_id`s
carry the quote's id (`falbot:quote:confirm:<id>`), and the quote is read from the store, so a
press works whichever process (or restart) sees it. The quote itself is ephemeral when asked
through an interaction: only its requester sees it, and only they may answer it (core checks)."""

from __future__ import annotations

import logging
import re
from typing import Any, Literal, Protocol, cast

import discord

from adapters.discord import render
from adapters.discord.webhooks import NO_MENTIONS
from core.confirmations import PriceQuote
from core.money import format_usd

log = logging.getLogger(__name__)

Answer = Literal["confirm", "cancel"]
_TEMPLATE = r"falbot:quote:(?P<answer>confirm|cancel):(?P<quote>[0-9a-f]{32})"


class QuoteHandler(Protocol):
    async def __call__(
        self, interaction: discord.Interaction, answer: Answer, quote_id: str
    ) -> None: ...


class HasQuoteHandler(Protocol):
    quote_buttons: QuoteHandler


class QuoteButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_TEMPLATE):
    def __init__(self, answer: Answer, quote_id: str, *, label: str | None = None) -> None:
        confirm = answer == "confirm"
        super().__init__(
            discord.ui.Button(
                label=label or ("Confirm" if confirm else "Cancel"),
                emoji="✅" if confirm else None,
                style=discord.ButtonStyle.success if confirm else discord.ButtonStyle.secondary,
                custom_id=f"falbot:quote:{answer}:{quote_id}",
            )
        )
        self.answer: Answer = answer
        self.quote_id = quote_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> QuoteButton:
        return cls(cast(Answer, match["answer"]), match["quote"])

    async def callback(self, interaction: discord.Interaction) -> None:
        handler = cast(HasQuoteHandler, interaction.client).quote_buttons
        await handler(interaction, self.answer, self.quote_id)


def quote_view(quote: PriceQuote) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(
        QuoteButton("confirm", quote.id, label=f"Confirm {format_usd(quote.estimate_usd)}")
    )
    view.add_item(QuoteButton("cancel", quote.id))
    return view


def quote_text(quote: PriceQuote) -> str:
    return render.fit("💰 " + render.markup(quote.text()))


async def show_quote(interaction: discord.Interaction, quote: PriceQuote) -> None:
    """The quote as the interaction's ephemeral answer, whatever state the interaction is in
    (a public "thinking…" placeholder, left by a download, is replaced privately)."""
    text, view = quote_text(quote), quote_view(quote)
    if not interaction.response.is_done():
        await interaction.response.send_message(text, view=view, ephemeral=True)
        return
    if interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
        try:
            await interaction.delete_original_response()
        except discord.HTTPException:
            log.debug("could not delete the placeholder of interaction %s", interaction.id)
    await interaction.followup.send(text, view=view, ephemeral=True, allowed_mentions=NO_MENTIONS)
